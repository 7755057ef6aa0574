// The CLI's local files: the input of a put (a file or stdin) and the output of a get, which
// is written to a temporary file beside the target and renamed over it only when complete, so
// a failed get never leaves a truncated file under the target's name. A target that exists
// and is not a regular file (a device, a pipe) is written in place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "shoal/base/status.h"

namespace shoal::cli {

struct InputFile {
    int fd = -1;
    std::string name;              // For messages: the path, or "stdin".
    std::optional<uint64_t> size;  // Known for regular files.
    bool owned = false;            // Close on destruction.

    InputFile() = default;
    InputFile(InputFile&& other) noexcept;
    InputFile& operator=(InputFile&&) = delete;
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;
    ~InputFile();
};

// `path` empty or "-" means stdin.
Result<InputFile> open_input(const std::string& path);

class OutputFile {
public:
    // Creates the temporary file beside `path`.
    static Result<OutputFile> create(const std::string& path);
    OutputFile(OutputFile&& other) noexcept;
    OutputFile& operator=(OutputFile&&) = delete;
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;
    // Removes the temporary file unless commit() succeeded.
    ~OutputFile();

    int fd() const { return fd_; }
    const std::string& path() const { return path_; }
    // Closes the temporary file and renames it to the target.
    Status commit();

private:
    OutputFile(int fd, std::string path, std::string temporary_path);

    int fd_ = -1;
    std::string path_;
    std::string temporary_path_;
};

}  // namespace shoal::cli
