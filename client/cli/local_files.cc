#include "local_files.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <utility>

#include <fmt/format.h>

#include <sys/stat.h>

namespace shoal::cli {

InputFile::InputFile(InputFile&& other) noexcept
    : fd(std::exchange(other.fd, -1)),
      name(std::move(other.name)),
      size(other.size),
      owned(std::exchange(other.owned, false)) {}

InputFile::~InputFile() {
    if (owned && fd >= 0) close(fd);
}

Result<InputFile> open_input(const std::string& path) {
    InputFile input;
    if (path.empty() || path == "-") {
        input.fd = STDIN_FILENO;
        input.name = "stdin";
    } else {
        input.fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (input.fd < 0) {
            return Status::io_error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
        }
        input.owned = true;
        input.name = path;
    }
    struct stat info {};
    if (fstat(input.fd, &info) == 0 && S_ISREG(info.st_mode)) {
        input.size = static_cast<uint64_t>(info.st_size);
    } else if (input.owned && S_ISDIR(info.st_mode)) {
        return Status::io_error(fmt::format("{} is a directory", path));
    }
    return input;
}

Result<OutputFile> OutputFile::create(const std::string& path) {
    // A device or a pipe (-o /dev/null, -o /dev/stdout) is written in place: renaming a
    // temporary file over it would replace the device itself.
    struct stat existing {};
    if (::stat(path.c_str(), &existing) == 0 && !S_ISREG(existing.st_mode)) {
        if (S_ISDIR(existing.st_mode)) {
            return Status::io_error(fmt::format("cannot write {}: it is a directory", path));
        }
        const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            return Status::io_error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
        }
        return OutputFile(fd, path, "");
    }
    const std::string temporary_path = fmt::format("{}.partial-{}", path, getpid());
    const int fd = open(temporary_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return Status::io_error(fmt::format("cannot create {}: {}", path, std::strerror(errno)));
    }
    return OutputFile(fd, path, temporary_path);
}

OutputFile::OutputFile(int fd, std::string path, std::string temporary_path)
    : fd_(fd), path_(std::move(path)), temporary_path_(std::move(temporary_path)) {}

OutputFile::OutputFile(OutputFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      temporary_path_(std::move(other.temporary_path_)) {}

OutputFile::~OutputFile() {
    if (fd_ >= 0) close(fd_);
    if (!temporary_path_.empty()) unlink(temporary_path_.c_str());
}

Status OutputFile::commit() {
    const int fd = std::exchange(fd_, -1);
    if (close(fd) != 0) {
        return Status::io_error(fmt::format("cannot write {}: {}", path_, std::strerror(errno)));
    }
    if (temporary_path_.empty()) return Status::ok();  // Written in place.
    if (rename(temporary_path_.c_str(), path_.c_str()) != 0) {
        return Status::io_error(
                fmt::format("cannot rename to {}: {}", path_, std::strerror(errno)));
    }
    temporary_path_.clear();
    return Status::ok();
}

}  // namespace shoal::cli
