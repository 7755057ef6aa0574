// Goal: a node's id is made once and kept: a second start over the same data directory reads
// the same id, and a damaged id file is refused rather than replaced.
//
// Method: a fresh directory under $TMPDIR; load_or_create_node_id twice, then over a file
// that holds garbage.
#include "app/node_identity.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace shoal::app {
namespace {

std::string fresh_directory(const std::string& name) {
    const std::filesystem::path base = std::filesystem::temp_directory_path() /
                                       ("shoal-node-id-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(base / name);
    return (base / name).string();
}

TEST_CASE("node id: made once and persisted and reused on restart", "[unit][config]") {
    const std::string directory = fresh_directory("reuse") + "/data";  // Not yet there.
    Result<NodeIdentity> first = load_or_create_node_id(directory, /*seed=*/1);
    INFO(first.status().message());
    REQUIRE(first.is_ok());
    REQUIRE(first.value().created);
    REQUIRE_FALSE(first.value().id.is_zero());

    std::ifstream file(directory + "/node.id");
    std::string text;
    std::getline(file, text);
    REQUIRE(text == membership::to_string(first.value().id));
    REQUIRE_FALSE(std::filesystem::exists(directory + "/node.id.tmp"));

    // Another seed, the same id: the file decides.
    Result<NodeIdentity> second = load_or_create_node_id(directory, /*seed=*/2);
    REQUIRE(second.is_ok());
    REQUIRE_FALSE(second.value().created);
    REQUIRE(second.value().id == first.value().id);
    std::filesystem::remove_all(std::filesystem::path(directory).parent_path());
}

TEST_CASE("node id: a damaged id file is refused, not replaced", "[unit][config]") {
    const std::string directory = fresh_directory("damaged");
    std::filesystem::create_directories(directory);
    {
        std::ofstream file(directory + "/node.id");
        file << "not an id\n";
    }
    Result<NodeIdentity> loaded = load_or_create_node_id(directory, /*seed=*/1);
    REQUIRE_FALSE(loaded.is_ok());
    REQUIRE(loaded.status().code() == Code::kCorruption);
    REQUIRE(loaded.status().message().find("node.id") != std::string::npos);
    std::ifstream file(directory + "/node.id");
    std::string text;
    std::getline(file, text);
    REQUIRE(text == "not an id");
    std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace shoal::app
