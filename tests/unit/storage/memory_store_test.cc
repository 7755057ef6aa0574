// Goal: the memory store never holds more than its budget, returns every byte it charged, and
// never shows a partial object.
//
// Method: drive MemoryStore, ObjectBuilder and ByteBudget by hand and read the budget after
// each step: puts that fit and do not, replaced and removed objects, builders dropped midway,
// readers that outlive a delete, and lists over prefixes with pagination.
#include "shoal/storage/memory_store.h"

#include <string>

#include <catch2/catch.hpp>

#include "shoal/base/limits.h"

namespace shoal::storage {
namespace {

constexpr uint64_t kOverhead = MemoryStore::kObjectOverheadBytes;

Buffer bytes_of(size_t size, char fill) {
    Buffer buffer(size);
    std::memset(buffer.data(), fill, size);
    return buffer;
}

ObjectRef put(MemoryStore& store, std::string_view key, size_t size, uint64_t hlc = 1) {
    Result<ObjectBuilder> builder = store.begin_put(key, size);
    REQUIRE(builder.is_ok());
    const Buffer data = bytes_of(size, 'a');
    REQUIRE(builder.value().append(data.view()).is_ok());
    ObjectRef object = builder.value().finish(Version{.hlc = hlc, .node = NodeId{1}}, 0);
    store.commit(key, object);
    return object;
}

TEST_CASE("storage: the budget charges object bytes and overhead, and returns them",
          "[unit][storage]") {
    MemoryStore store({.memory_bytes = 1024 * 1024});
    put(store, "one", 1000);
    REQUIRE(store.stats().budget_used_bytes == 1000 + kOverhead + 3);
    REQUIRE(store.stats().objects == 1);
    REQUIRE(store.stats().object_bytes == 1000);

    SECTION("replacing an object charges only the new one") {
        put(store, "one", 10, /*hlc=*/2);
        REQUIRE(store.stats().budget_used_bytes == 10 + kOverhead + 3);
        REQUIRE(store.stats().object_bytes == 10);
        REQUIRE(store.find("one")->object_bytes == 10);
    }
    SECTION("removing an object returns its bytes") {
        REQUIRE(store.remove("one"));
        REQUIRE_FALSE(store.remove("one"));
        REQUIRE(store.stats().budget_used_bytes == 0);
        REQUIRE(store.find("one") == nullptr);
    }
    SECTION("a reader keeps a removed object, and its charge, until it lets go") {
        ObjectRef reader = store.find("one");
        REQUIRE(store.remove("one"));
        REQUIRE(store.stats().budget_used_bytes == 1000 + kOverhead + 3);
        REQUIRE(reader->pieces.at(0).size() == 1000);
        reader.reset();
        REQUIRE(store.stats().budget_used_bytes == 0);
    }
}

TEST_CASE("storage: a put over the budget fails with no space", "[unit][storage]") {
    MemoryStore store({.memory_bytes = 64 * 1024});

    SECTION("a declared size that cannot fit is refused before any byte arrives") {
        Result<ObjectBuilder> builder = store.begin_put("big", 100 * 1024);
        REQUIRE_FALSE(builder.is_ok());
        REQUIRE(builder.status().code() == Code::kResourceExhausted);
        REQUIRE(builder.status().message().find("no space") != std::string::npos);
        REQUIRE(store.stats().budget_used_bytes == 0);
    }
    SECTION("an undeclared size is refused at the piece that overflows, and nothing is kept") {
        Result<ObjectBuilder> builder = store.begin_put("big", UINT64_MAX);
        REQUIRE(builder.is_ok());
        const Buffer piece = bytes_of(30 * 1024, 'b');
        REQUIRE(builder.value().append(piece.view()).is_ok());
        REQUIRE(builder.value().append(piece.view()).is_ok());
        const Status overflow = builder.value().append(piece.view());
        REQUIRE(overflow.code() == Code::kResourceExhausted);
        REQUIRE(builder.value().object_bytes() == 60 * 1024);
        REQUIRE(store.stats().budget_used_bytes == 60 * 1024 + kOverhead + 3);
        { ObjectBuilder dropped = std::move(builder).value(); }
        REQUIRE(store.stats().budget_used_bytes == 0);
        REQUIRE(store.find("big") == nullptr);
    }
    SECTION("a budget too small for one object is an invalid option") {
        REQUIRE_FALSE(MemoryStore::Options{.memory_bytes = 100}.validate().is_ok());
    }
}

TEST_CASE("storage: pieces never exceed one data frame", "[unit][storage]") {
    MemoryStore store({.memory_bytes = 64 * 1024 * 1024});
    Result<ObjectBuilder> builder = store.begin_put("k", UINT64_MAX);
    REQUIRE(builder.is_ok());
    const Buffer small = bytes_of(300 * 1024, 's');
    for (int index = 0; index < 10; index++)
        REQUIRE(builder.value().append(small.view()).is_ok());
    ObjectRef object = builder.value().finish(Version{.hlc = 1, .node = NodeId{1}}, 0);
    uint64_t total = 0;
    for (const Buffer& piece : object->pieces) {
        REQUIRE(piece.size() <= limits::kDataFrameBytesMax);
        total += piece.size();
    }
    REQUIRE(total == 3000 * 1024);
    REQUIRE(object->pieces.size() == 4);  // 3 x 900 KiB merged, then the last 300 KiB.
}

TEST_CASE("storage: list walks a prefix in key order with pagination", "[unit][storage]") {
    MemoryStore store({.memory_bytes = 1024 * 1024});
    for (const char* key : {"a/1", "a/2", "a/3", "b/1", "a", "ab"})
        put(store, key, 1);

    const auto keys = [](const MemoryStore::ListPage& page) {
        std::vector<std::string> names;
        for (const auto& entry : page.entries)
            names.emplace_back(entry.key);
        return names;
    };
    MemoryStore::ListPage page = store.list("a/", "", 2);
    REQUIRE(keys(page) == std::vector<std::string>{"a/1", "a/2"});
    REQUIRE(page.truncated);
    page = store.list("a/", "a/2", 2);
    REQUIRE(keys(page) == std::vector<std::string>{"a/3"});
    REQUIRE_FALSE(page.truncated);
    REQUIRE(keys(store.list("", "", 10)) ==
            std::vector<std::string>{"a", "a/1", "a/2", "a/3", "ab", "b/1"});
    REQUIRE(keys(store.list("a", "a/3", 10)) == std::vector<std::string>{"ab"});
    REQUIRE(store.list("c", "", 10).entries.empty());
}

}  // namespace
}  // namespace shoal::storage
