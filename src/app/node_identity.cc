#include "app/node_identity.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <string_view>
#include <unistd.h>

#include <fmt/format.h>

#include "shoal/base/prng.h"
#include <sys/stat.h>

namespace shoal::app {
namespace {

// Longer than any valid file, so a stray big file is refused without reading it all.
constexpr size_t kFileBytesMax = 256;

Status os_error(std::string_view what, const std::string& path) {
    return Status::io_error(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

Status write_all(int fd, std::string_view text, const std::string& path) {
    while (!text.empty()) {
        const ssize_t written = ::write(fd, text.data(), text.size());
        if (written < 0 && errno == EINTR) continue;
        if (written < 0) return os_error("cannot write", path);
        text.remove_prefix(static_cast<size_t>(written));
    }
    return Status::ok();
}

Status sync_directory(const std::string& directory) {
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return os_error("cannot open", directory);
    const int synced = ::fsync(fd);
    ::close(fd);
    if (synced != 0) return os_error("cannot sync", directory);
    return Status::ok();
}

// tmp, fsync, rename, fsync the directory: a crash leaves no file or the whole one.
Status write_atomically(const std::string& directory,
                        const std::string& path,
                        std::string_view text) {
    const std::string temporary = path + ".tmp";
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return os_error("cannot create", temporary);
    Status status = write_all(fd, text, temporary);
    if (status.is_ok() && ::fsync(fd) != 0) status = os_error("cannot sync", temporary);
    ::close(fd);
    if (status.is_ok() && ::rename(temporary.c_str(), path.c_str()) != 0) {
        status = os_error("cannot rename", temporary);
    }
    if (!status.is_ok()) {
        ::unlink(temporary.c_str());
        return status;
    }
    return sync_directory(directory);
}

Result<std::string> read_small_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return os_error("cannot open", path);
    std::string text(kFileBytesMax, '\0');
    size_t filled = 0;
    while (filled < text.size()) {
        const ssize_t got = ::read(fd, text.data() + filled, text.size() - filled);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            const Status failed = os_error("cannot read", path);
            ::close(fd);
            return failed;
        }
        if (got == 0) break;
        filled += static_cast<size_t>(got);
    }
    ::close(fd);
    text.resize(filled);
    return text;
}

}  // namespace

Result<NodeIdentity> load_or_create_node_id(const std::string& directory, uint64_t seed) {
    SHOAL_ASSERT(!directory.empty());
    const std::string path = directory + "/" + kNodeIdFileName;
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0) {
        SHOAL_TRY_ASSIGN(std::string text, read_small_file(path));
        std::string_view digits = text;
        if (digits.ends_with('\n')) digits.remove_suffix(1);
        Result<membership::MemberId> id = membership::parse_member_id(digits);
        if (!id.is_ok()) {
            return Status::corruption(fmt::format(
                    "{} does not hold a node id ({}); restore it or remove the data directory",
                    path,
                    id.status().message()));
        }
        return NodeIdentity{.id = id.value(), .created = false};
    }
    if (errno != ENOENT) return os_error("cannot stat", path);
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error) {
        return Status::io_error(
                fmt::format("cannot create the data directory {}: {}", directory, error.message()));
    }
    Prng prng(seed);
    const membership::MemberId id = membership::random_member_id(prng);
    SHOAL_TRY(write_atomically(directory, path, membership::to_string(id) + "\n"));
    return NodeIdentity{.id = id, .created = true};
}

}  // namespace shoal::app
