// Replays fuzz inputs through a fuzz target without libFuzzer, so a corpus runs as a plain
// regression test under any compiler (ctest label `fuzz`).
//
// Usage: <target>_replay <file or directory>...
// Every regular file named, and every regular file under a named directory, is read and passed
// to LLVMFuzzerTestOneInput once, in sorted path order. A crash or sanitizer report fails the
// run; so does finding no input at all, so that a missing corpus cannot pass silently.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

// The regular files `path` names: itself, or everything under it. Empty if it is neither.
std::vector<fs::path> inputs_at(const fs::path& path) {
    std::vector<fs::path> inputs;
    std::error_code error;
    if (fs::is_regular_file(path, error)) {
        inputs.push_back(path);
    } else if (fs::is_directory(path, error)) {
        for (const fs::directory_entry& entry : fs::recursive_directory_iterator(path, error)) {
            if (entry.is_regular_file(error)) inputs.push_back(entry.path());
        }
    }
    std::sort(inputs.begin(), inputs.end());
    return inputs;
}

bool replay(const fs::path& input) {
    std::ifstream file(input, std::ios::binary);
    if (!file) {
        fmt::print(stderr, "replay: cannot open {}\n", input.string());
        return false;
    }
    const std::vector<char> bytes{std::istreambuf_iterator<char>(file),
                                  std::istreambuf_iterator<char>()};
    // A copy in a buffer of exactly the input's size, so ASan sees any read past its end.
    std::vector<uint8_t> data(bytes.begin(), bytes.end());
    LLVMFuzzerTestOneInput(data.data(), data.size());
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    size_t replayed = 0;
    for (int index = 1; index < argc; index++) {
        const std::vector<fs::path> inputs = inputs_at(argv[index]);
        if (inputs.empty()) fmt::print(stderr, "replay: no input at {}\n", argv[index]);
        for (const fs::path& input : inputs) {
            if (!replay(input)) return 1;
            replayed += 1;
        }
    }
    fmt::print("replay: {} inputs ran without a finding\n", replayed);
    return replayed > 0 ? 0 : 1;
}
