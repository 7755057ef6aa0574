#include "shoal/sim/sim_disk.h"

#include <algorithm>

#include <fmt/format.h>

namespace shoal::sim {
namespace {

std::string parent_of(const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? "" : path.substr(0, slash);
}

bool is_root(const std::string& directory) {
    return directory.empty() || directory == "/";
}

// Writes `data` at `offset` of `bytes`, growing it with zeros if needed.
void apply_write(Buffer& bytes, uint64_t offset, ByteView data) {
    const size_t end = static_cast<size_t>(offset) + data.size();
    if (end > bytes.size()) {
        const size_t old_size = bytes.size();
        bytes.resize(end);
        std::memset(bytes.data() + old_size, 0, end - old_size);
    }
    if (!data.empty()) std::memcpy(bytes.data() + offset, data.data(), data.size());
}

void apply_truncate(Buffer& bytes, uint64_t size) {
    const size_t old_size = bytes.size();
    bytes.resize(static_cast<size_t>(size));
    if (size > old_size) std::memset(bytes.data() + old_size, 0, size - old_size);
}

}  // namespace

SimDisk::SimDisk(EventQueue& events, uint64_t seed, DiskFaults faults)
    : events_(events), prng_(seed), faults_(faults) {}

Duration SimDisk::latency() {
    return faults_.latency_min +
           Duration(prng_.below(static_cast<uint64_t>(faults_.latency_jitter_max.count()) + 1));
}

void SimDisk::complete_later(Duration delay, std::function<void()> action) {
    events_.schedule_after(delay, [this, generation = generation_, action = std::move(action)] {
        if (generation == generation_) action();  // A crash in between: the caller is gone.
    });
}

std::optional<Status> SimDisk::injected(Operation operation, uint32_t per_million) {
    auto planned = fail_next_.find(operation);
    if (planned != fail_next_.end()) {
        Status status = planned->second;
        fail_next_.erase(planned);
        stats_.errors_injected += 1;
        return status;
    }
    if (per_million > 0 && prng_.chance(per_million, 1'000'000)) {
        stats_.errors_injected += 1;
        return Status::io_error("disk: injected I/O error");
    }
    return std::nullopt;
}

void SimDisk::fail_next(Operation operation, Status status) {
    SHOAL_ASSERT(!status.is_ok());
    fail_next_.insert_or_assign(operation, std::move(status));
}

void SimDisk::open(runtime::DiskOpen& open) {
    complete_later(latency(), [this, &open] {
        if (std::optional<Status> fault = injected(Operation::kOpen, 0)) {
            open.done(open, *fault);
            return;
        }
        auto found = names_.find(open.path);
        const bool creates = open.mode == runtime::OpenMode::kCreate ||
                             open.mode == runtime::OpenMode::kCreateExclusive;
        if (found != names_.end() && open.mode == runtime::OpenMode::kCreateExclusive) {
            open.done(open,
                      Status::invalid_argument(fmt::format("disk: open {}: exists", open.path)));
            return;
        }
        if (found == names_.end()) {
            const std::string parent = parent_of(open.path);
            if (!creates || (!is_root(parent) && !directories_.contains(parent))) {
                open.done(open,
                          Status::not_found(fmt::format("disk: open {}: no such file", open.path)));
                return;
            }
            found = names_.emplace(open.path, std::make_shared<Inode>()).first;
        }
        open.file = runtime::FileId{file_next_++};
        open_files_[open.file] = OpenFile{.inode = found->second,
                                          .path = open.path,
                                          .writable = open.mode != runtime::OpenMode::kRead};
        open.done(open, Status::ok());
    });
}

void SimDisk::close(runtime::FileId file) {
    open_files_.erase(file);
}

namespace {

// The cache hint changes nothing here, but a store that gets it wrong should hear of it.
bool uncached_in_order(const runtime::DiskWrite& write) {
    uint64_t end = 0;
    for (const runtime::ByteRange& range : write.uncached) {
        if (range.bytes == 0 || range.offset < end || range.offset > write.data.size() ||
            range.bytes > write.data.size() - range.offset) {
            return false;
        }
        end = range.offset + range.bytes;
    }
    return true;
}

}  // namespace

void SimDisk::write(runtime::DiskWrite& write) {
    complete_later(latency(), [this, &write] {
        stats_.writes += 1;
        auto found = open_files_.find(write.file);
        if (found == open_files_.end() || !found->second.writable) {
            write.done(write, Status::invalid_argument("disk: write to a file not open for it"));
            return;
        }
        if (!uncached_in_order(write)) {
            write.done(write, Status::invalid_argument("disk: uncached ranges out of order"));
            return;
        }
        if (std::optional<Status> fault =
                    injected(Operation::kWrite, faults_.write_error_per_million)) {
            write.done(write, *fault);
            return;
        }
        Inode& inode = *found->second.inode;
        const uint64_t end = write.offset + write.data.size();
        const uint64_t growth = end > inode.current.size() ? end - inode.current.size() : 0;
        if (growth > 0 && used_bytes() + growth > faults_.capacity_bytes) {
            write.done(write,
                       Status::resource_exhausted(fmt::format(
                               "disk: write {}: no space left on device", found->second.path)));
            return;
        }
        bool whole_blocks = !write.uncached.empty();
        for (const runtime::ByteRange& range : write.uncached) {
            stats_.uncached_bytes += range.bytes;
            whole_blocks = whole_blocks &&
                           (write.offset + range.offset) % runtime::kDiskBlockBytes == 0 &&
                           range.bytes % runtime::kDiskBlockBytes == 0;
        }
        if (whole_blocks) stats_.whole_block_uncached_writes += 1;
        apply_write(inode.current, write.offset, write.data);
        inode.unsynced.push_back(PendingChange{.offset = write.offset, .data = Buffer(write.data)});
        if (!write.sync) return write.done(write, Status::ok());
        // Written, then synced a moment later: a crash in between finds it unsynced.
        std::shared_ptr<Inode> synced = found->second.inode;
        const size_t covered = synced->unsynced.size();
        complete_later(faults_.sync_latency, [this, &write, synced, covered] {
            write.done(write, sync_inode(*synced, covered));
        });
    });
}

Status SimDisk::sync_inode(Inode& inode, size_t covered) {
    stats_.syncs += 1;
    if (std::optional<Status> fault = injected(Operation::kSync, faults_.sync_error_per_million)) {
        // As after a real fsync failure, what reached the disk is unknown: nothing more
        // becomes durable here, and a crash decides.
        return *fault;
    }
    for (size_t index = 0; index < covered; index++) {
        const PendingChange& change = inode.unsynced[index];
        if (change.is_truncate) {
            apply_truncate(inode.durable, change.offset);
        } else {
            apply_write(inode.durable, change.offset, change.data.view());
        }
    }
    inode.unsynced.erase(inode.unsynced.begin(),
                         inode.unsynced.begin() + static_cast<ptrdiff_t>(covered));
    return Status::ok();
}

void SimDisk::read(runtime::DiskRead& read) {
    complete_later(latency(), [this, &read] {
        stats_.reads += 1;
        auto found = open_files_.find(read.file);
        if (found == open_files_.end()) {
            read.done(read, Status::invalid_argument("disk: read of a file not open"));
            return;
        }
        if (std::optional<Status> fault =
                    injected(Operation::kRead, faults_.read_error_per_million)) {
            read.done(read, *fault);
            return;
        }
        const Buffer& bytes = found->second.inode->current;
        const uint64_t available = read.offset < bytes.size() ? bytes.size() - read.offset : 0;
        read.read_bytes = static_cast<size_t>(std::min<uint64_t>(available, read.target.size()));
        if (read.read_bytes > 0) {
            std::memcpy(read.target.data(), bytes.data() + read.offset, read.read_bytes);
        }
        read.done(read, Status::ok());
    });
}

void SimDisk::sync(runtime::DiskSync& sync) {
    // What the sync covers is fixed when it starts: writes completed before it.
    auto found = open_files_.find(sync.file);
    std::shared_ptr<Inode> inode = found == open_files_.end() ? nullptr : found->second.inode;
    const size_t covered = inode == nullptr ? 0 : inode->unsynced.size();
    complete_later(faults_.sync_latency + latency(), [this, &sync, inode, covered] {
        if (inode == nullptr) {
            stats_.syncs += 1;
            sync.done(sync, Status::invalid_argument("disk: sync of a file not open"));
            return;
        }
        sync.done(sync, sync_inode(*inode, covered));
    });
}

void SimDisk::truncate(runtime::DiskTruncate& truncate) {
    complete_later(latency(), [this, &truncate] {
        auto found = open_files_.find(truncate.file);
        if (found == open_files_.end() || !found->second.writable) {
            truncate.done(truncate, Status::invalid_argument("disk: truncate of a file not open"));
            return;
        }
        if (std::optional<Status> fault = injected(Operation::kTruncate, 0)) {
            truncate.done(truncate, *fault);
            return;
        }
        Inode& inode = *found->second.inode;
        apply_truncate(inode.current, truncate.size);
        inode.unsynced.push_back(PendingChange{.is_truncate = true, .offset = truncate.size});
        truncate.done(truncate, Status::ok());
    });
}

void SimDisk::file_size(runtime::DiskFileSize& request) {
    complete_later(latency(), [this, &request] {
        auto found = open_files_.find(request.file);
        if (found == open_files_.end()) {
            request.done(request, Status::invalid_argument("disk: size of a file not open"));
            return;
        }
        request.size = found->second.inode->current.size();
        request.done(request, Status::ok());
    });
}

void SimDisk::path_request(runtime::DiskPathRequest& request) {
    const bool is_sync = request.kind == runtime::DiskPathRequest::Kind::kSyncDirectory;
    complete_later((is_sync ? faults_.sync_latency : Duration(0)) + latency(), [this, &request] {
        if (std::optional<Status> fault = injected(Operation::kPath, 0)) {
            request.done(request, *fault);
            return;
        }
        Status status = path_operation(request);
        request.done(request, std::move(status));
    });
}

Status SimDisk::path_operation(runtime::DiskPathRequest& request) {
    using Kind = runtime::DiskPathRequest::Kind;
    // The root is "" in names (parent_of("/d") is ""), whichever way a caller spells it.
    const std::string path = request.path == "/" ? std::string() : request.path;
    const auto in_directory = [&](const std::string& name) {
        return parent_of(name) == path;
    };
    switch (request.kind) {
        case Kind::kMakeDirectory:
            if (names_.contains(path)) {
                return Status::invalid_argument(fmt::format("disk: mkdir {}: a file", path));
            }
            if (!is_root(parent_of(path)) && !directories_.contains(parent_of(path))) {
                return Status::not_found(fmt::format("disk: mkdir {}: no parent", path));
            }
            directories_.insert(path);
            return Status::ok();
        case Kind::kList:
            if (!is_root(path) && !directories_.contains(path)) {
                return Status::not_found(fmt::format("disk: list {}: no such directory", path));
            }
            request.names.clear();
            for (const auto& [name, inode] : names_) {
                if (in_directory(name)) request.names.push_back(name.substr(path.size() + 1));
            }
            for (const std::string& directory : directories_) {
                if (in_directory(directory)) {
                    request.names.push_back(directory.substr(path.size() + 1));
                }
            }
            std::sort(request.names.begin(), request.names.end());
            return Status::ok();
        case Kind::kRemove:
            if (names_.erase(path) == 0) {
                return Status::not_found(fmt::format("disk: remove {}: no such file", path));
            }
            return Status::ok();
        case Kind::kRename: {
            auto source = names_.find(path);
            if (source == names_.end()) {
                return Status::not_found(fmt::format("disk: rename {}: no such file", path));
            }
            std::shared_ptr<Inode> inode = source->second;
            names_.erase(source);
            names_[request.target_path] = std::move(inode);
            return Status::ok();
        }
        case Kind::kFreeSpace: {
            const uint64_t used = used_bytes();
            request.total_bytes = faults_.capacity_bytes;
            request.free_bytes = used < faults_.capacity_bytes ? faults_.capacity_bytes - used : 0;
            return Status::ok();
        }
        case Kind::kSyncDirectory:
            for (auto durable = names_durable_.begin(); durable != names_durable_.end();) {
                const bool gone = in_directory(durable->first) && !names_.contains(durable->first);
                durable = gone ? names_durable_.erase(durable) : std::next(durable);
            }
            for (const auto& [name, inode] : names_) {
                if (in_directory(name)) names_durable_[name] = inode;
            }
            for (const std::string& directory : directories_) {
                if (in_directory(directory)) directories_durable_.insert(directory);
            }
            return Status::ok();
    }
    return Status::invalid_argument("disk: unknown path request");
}

void SimDisk::crash_inode(Inode& inode) {
    // The disk wrote an in-order prefix of the unsynced changes, the last perhaps in part.
    const size_t kept = prng_.below(inode.unsynced.size() + 1);
    for (size_t index = 0; index < kept; index++) {
        const PendingChange& change = inode.unsynced[index];
        if (change.is_truncate) {
            apply_truncate(inode.durable, change.offset);
            continue;
        }
        ByteView data = change.data.view();
        const bool last = index + 1 == kept;
        if (last && !data.empty() && prng_.chance(faults_.tear_per_million, 1'000'000)) {
            // A torn write stops at a sector boundary of the file.
            const uint64_t end = change.offset + data.size();
            const uint64_t first_boundary = (change.offset / kSectorBytes + 1) * kSectorBytes;
            if (first_boundary < end) {
                const uint64_t boundaries = (end - first_boundary) / kSectorBytes + 1;
                const uint64_t cut = first_boundary + prng_.below(boundaries) * kSectorBytes;
                data = data.subspan(0, static_cast<size_t>(std::min(cut, end) - change.offset));
                stats_.writes_torn_in_crash += 1;
            }
        }
        apply_write(inode.durable, change.offset, data);
    }
    stats_.writes_lost_in_crash += inode.unsynced.size() - kept;
    inode.unsynced.clear();
    inode.current = inode.durable.clone();
}

void SimDisk::crash() {
    stats_.crashes += 1;
    generation_ += 1;
    std::set<Inode*> seen;
    for (auto* names : {&names_, &names_durable_}) {
        for (auto& [name, inode] : *names) {
            if (seen.insert(inode.get()).second) crash_inode(*inode);
        }
    }
    names_ = names_durable_;
    directories_ = directories_durable_;
    open_files_.clear();
    fail_next_.clear();
}

void SimDisk::kill_process() {
    generation_ += 1;
    open_files_.clear();
    fail_next_.clear();
}

bool SimDisk::flip_bit(const std::string& path, uint64_t offset, uint8_t bit) {
    SHOAL_ASSERT(bit < 8);
    auto found = names_.find(path);
    if (found == names_.end()) return false;
    Inode& inode = *found->second;
    const auto mask = static_cast<std::byte>(1U << bit);
    bool flipped = false;
    for (Buffer* bytes : {&inode.current, &inode.durable}) {
        if (offset < bytes->size()) {
            (*bytes)[offset] ^= mask;
            flipped = true;
        }
    }
    return flipped;
}

std::optional<Buffer> SimDisk::contents(const std::string& path) const {
    auto found = names_.find(path);
    if (found == names_.end()) return std::nullopt;
    return found->second->current.clone();
}

uint64_t SimDisk::used_bytes() const {
    uint64_t bytes = 0;
    std::set<const Inode*> seen;
    for (const auto& [name, inode] : names_) {
        if (seen.insert(inode.get()).second) bytes += inode->current.size();
    }
    for (const auto& [file, open] : open_files_) {
        if (seen.insert(open.inode.get()).second) bytes += open.inode->current.size();
    }
    return bytes;
}

}  // namespace shoal::sim
