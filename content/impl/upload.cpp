#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cyxp2p/content/dag_pb.hpp>
#include <cyxp2p/content/detail/posix_io.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/leaf.hpp>
#include <cyxp2p/content/upload.hpp>
#include <cyxp2p/content/varint.hpp>

namespace cyxp2p::content {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kRecordMagic = "CYXUPLOAD1\n";
constexpr const char* kBlockSuffix = ".block";

std::string name_of(const Cid& cid) {
    return cid.to_v1().to_string();
}

fs::path staging_root(const Blockstore& store) {
    return store.root() / "staging";
}

std::uint64_t saturating_sub(std::uint64_t a, std::uint64_t b) {
    return a > b ? a - b : 0;
}

std::optional<Bytes> read_file(const fs::path& p, std::uint64_t cap) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    struct stat st {};
    std::optional<Bytes> out;
    if (::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) <= cap) {
        Bytes b(static_cast<std::size_t>(st.st_size));
        std::size_t got = 0;
        while (got < b.size()) {
            const ssize_t n = ::pread(fd, b.data() + got, b.size() - got, static_cast<off_t>(got));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += static_cast<std::size_t>(n);
        }
        if (got == b.size()) out = std::move(b);
    }
    ::close(fd);
    return out;
}

// flock() locks belong to an open file description, so two Uploads of one process exclude each other as
// two processes do. Blocking (the store lock) or not (a root's lock: a second Upload is refused, not queued).
int lock_file(const fs::path& p, bool wait) {
    const int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    int r;
    do {
        r = ::flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB));
    } while (r != 0 && errno == EINTR);
    if (r != 0) {
        const int err = errno;
        ::close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

// Serializes begin(), the removal of a staging directory and sweep() over the whole store: a budget is never
// computed while another upload's reservation is half-written, and no directory is removed under a begin().
class StoreLock {
  public:
    explicit StoreLock(const Blockstore& store) : fd_(lock_file(staging_root(store) / ".lock", true)) {}
    ~StoreLock() {
        if (fd_ >= 0) ::close(fd_);
    }
    StoreLock(const StoreLock&) = delete;
    StoreLock& operator=(const StoreLock&) = delete;
    bool held() const { return fd_ >= 0; }

  private:
    int fd_;
};

// Disk a staging directory's blocks take, counted as Upload::push counts them. Leftover .tmp files (a crash
// during a write) are removed when `clean`.
std::uint64_t staged_charge(const fs::path& dir, const Limits& limits, bool clean) {
    std::uint64_t total = 0;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const auto& p = it->path();
        if (clean && p.extension() == ".tmp") {
            ::unlink(p.c_str());
            continue;
        }
        if (p.extension() != kBlockSuffix) continue;
        std::error_code size_ec;
        const auto size = fs::file_size(p, size_ec);
        if (!size_ec) total += size + limits.upload_block_charge;
    }
    return total;
}

// The record names the root and what the upload reserved; unreadable, the directory counts only its blocks.
std::uint64_t recorded_reservation(const fs::path& dir) {
    auto bytes = read_file(dir / "upload", 4096);
    if (!bytes || bytes->size() < kRecordMagic.size() ||
        as_chars(ByteView(*bytes).first(kRecordMagic.size())) != kRecordMagic)
        return 0;
    ByteView in = ByteView(*bytes).subspan(kRecordMagic.size());
    std::uint64_t declared = 0, reserved = 0;
    if (read_varint(in, declared) || read_varint(in, reserved)) return 0;
    return reserved;
}

void sync_directory(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

}  // namespace

fs::path Upload::staging_path(const Blockstore& store, const Cid& root) {
    return staging_root(store) / name_of(root);
}

std::uint64_t Upload::reservation(std::uint64_t declared_size, const Limits& limits) {
    const std::uint64_t divisor = std::max<std::uint64_t>(limits.upload_overhead_divisor, 1);
    return declared_size + declared_size / divisor + limits.upload_overhead_slack;
}

Upload::Upload(const Blockstore& store, const Cid& root, std::uint64_t declared_size, const Limits& limits)
    : store_(store),
      root_(root),
      declared_(declared_size),
      limits_(limits),
      dir_(staging_path(store, root)),
      verifier_(root, limits) {}

Upload::~Upload() {
    abort();
}

std::error_code Upload::fail(std::error_code ec, std::string detail) {
    if (!detail.empty() && detail_.empty()) detail_ = std::move(detail);
    if (!error_) error_ = ec;
    return error_;
}

std::error_code Upload::local_error(const fs::path& path, const char* doing, int err) {
    const bool full = err == ENOSPC || err == EDQUOT || err == EFBIG;
    return fail(make_error_code(full ? errc::no_space : errc::write_failed),
                std::string(doing) + " " + path.string() + ": " + std::strerror(err));
}

std::error_code Upload::begin() {
    if (begun_) return error_;
    begun_ = true;
    const std::string root = name_of(root_);
    if (declared_ > limits_.max_upload_size) {
        return fail(errc::upload_too_large, "upload of " + root + " declares " + std::to_string(declared_) +
                                                " bytes; this node accepts at most " +
                                                std::to_string(limits_.max_upload_size) +
                                                " (Limits::max_upload_size)");
    }
    resumed_.reserved = reservation(declared_, limits_);
    if (auto refused = reserve()) return refused;
    // The walk re-hashes what is held, which takes a while for a large DAG: outside the store lock.
    return find_held();
}

std::error_code Upload::reserve() {
    const std::string root = name_of(root_);
    std::error_code ec;
    fs::create_directories(staging_root(store_), ec);
    if (ec) return local_error(staging_root(store_), "creating", ec.value());
    StoreLock store_lock(store_);
    if (!store_lock.held()) return local_error(staging_root(store_) / ".lock", "locking", errno);

    const bool resuming = fs::is_directory(dir_, ec);
    if (resuming) {
        lock_fd_ = lock_file(dir_ / "lock", false);
        if (lock_fd_ < 0 && errno == EWOULDBLOCK)
            return fail(errc::upload_in_progress, "another upload of " + root + " holds " + dir_.string());
        if (lock_fd_ < 0) return local_error(dir_ / "lock", "locking", errno);
    } else {
        std::size_t others = 0;
        for (fs::directory_iterator it(staging_root(store_), ec), end; !ec && it != end; it.increment(ec)) {
            if (it->is_directory()) ++others;
        }
        if (others >= limits_.max_partial_uploads) {
            return fail(errc::too_many_uploads,
                        "the store holds " + std::to_string(others) + " partial uploads, the most it keeps " +
                            "(Limits::max_partial_uploads = " + std::to_string(limits_.max_partial_uploads) +
                            "); retry once one completes or expires");
        }
    }
    const std::uint64_t own = resuming ? staged_charge(dir_, limits_, true) : 0;
    if (auto refused = check_budget(own)) return refused;
    if (!resuming) {
        fs::create_directory(dir_, ec);
        if (ec) return local_error(dir_, "creating", ec.value());
        lock_fd_ = lock_file(dir_ / "lock", false);
        if (lock_fd_ < 0) return local_error(dir_ / "lock", "locking", errno);
    }
    // The record is what other uploads' budgets count; written whole (rename) so it is never half-read. Its
    // rename also touches the directory, which is what sweep() ages.
    Bytes record(kRecordMagic.begin(), kRecordMagic.end());
    append_varint(record, declared_);
    append_varint(record, resumed_.reserved);
    const Bytes cid = root_.bytes();
    record.insert(record.end(), cid.begin(), cid.end());
    const fs::path tmp = dir_ / "upload.tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return local_error(tmp, "creating", errno);
    const bool written = detail::pwrite_all(fd, record, 0);
    const int err = errno;
    ::close(fd);
    if (!written) return local_error(tmp, "writing", err);
    if (::rename(tmp.c_str(), (dir_ / "upload").c_str()) != 0) return local_error(dir_, "renaming in", errno);
    charge_ = own;
    return {};
}

std::error_code Upload::check_budget(std::uint64_t own_charge) {
    std::uint64_t others = 0, others_reserved = 0, others_remaining = 0;
    std::error_code ec;
    for (fs::directory_iterator it(staging_root(store_), ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_directory() || it->path() == dir_) continue;
        ++others;
        const std::uint64_t reserved = recorded_reservation(it->path());
        const std::uint64_t charged = staged_charge(it->path(), limits_, false);
        // What another upload already staged is gone from the free space; only the rest is still owed.
        others_reserved += std::max(reserved, charged);
        others_remaining += saturating_sub(reserved, charged);
    }
    struct statvfs vfs {};
    if (::statvfs(staging_root(store_).c_str(), &vfs) != 0)
        return local_error(staging_root(store_), "measuring the free space of", errno);
    const std::uint64_t free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    const std::uint64_t need = saturating_sub(resumed_.reserved, own_charge);
    const std::string head = "upload of " + name_of(root_) + " (" + std::to_string(declared_) + " bytes) ";
    const std::string others_text =
        std::to_string(others) + " other partial upload" + (others == 1 ? "" : "s");
    const std::uint64_t from_disk =
        saturating_sub(free_bytes, limits_.upload_disk_reserve + others_remaining);
    if (need > from_disk) {
        return fail(errc::disk_budget_exceeded,
                    head + "needs " + std::to_string(need) + " more bytes of disk; " +
                        staging_root(store_).string() + " has " + std::to_string(free_bytes) +
                        " free, minus the reserve of " + std::to_string(limits_.upload_disk_reserve) +
                        " (Limits::upload_disk_reserve) and " + std::to_string(others_remaining) +
                        " still owed to " + others_text + ": " + std::to_string(from_disk) + " available");
    }
    const std::uint64_t from_budget = saturating_sub(limits_.upload_disk_budget, others_reserved);
    if (resumed_.reserved > from_budget) {
        return fail(errc::disk_budget_exceeded,
                    head + "reserves " + std::to_string(resumed_.reserved) +
                        " bytes; the uploads' disk budget is " + std::to_string(limits_.upload_disk_budget) +
                        " (Limits::upload_disk_budget) and " + others_text + " reserve " +
                        std::to_string(others_reserved) + ": " + std::to_string(from_budget) + " available");
    }
    return {};
}

std::optional<Bytes> Upload::read_held(const Cid& cid, std::error_code& ec) const {
    ec.clear();
    if (auto staged = read_file(dir_ / (name_of(cid) + kBlockSuffix), limits_.max_block_size)) return staged;
    return store_.get(cid, ec);
}

std::error_code Upload::verify_root_size(std::uint64_t file_size) {
    if (file_size == declared_) return {};
    return fail(errc::upload_size_mismatch, "the root " + name_of(root_) + " is a file of " +
                                                std::to_string(file_size) + " bytes; the upload declared " +
                                                std::to_string(declared_));
}

// The resume: the DAG walked from the root through a verifier of its own, every block hashed again, until the
// first block neither staged nor in the store. The real verifier sees the held leaves again in push().
std::error_code Upload::find_held() {
    DagVerifier probe(root_, limits_);
    while (auto cid = probe.expected()) {
        const fs::path staged = dir_ / (name_of(*cid) + kBlockSuffix);
        auto block = read_file(staged, limits_.max_block_size);
        const bool from_staging = block.has_value();
        std::error_code ec;
        if (!block) block = store_.get(*cid, ec);  // get() re-hashes what the store holds
        if (!block) break;
        VerifiedData out;
        if (auto bad = probe.push(*block, *cid, out)) {
            // A staged copy damaged or changed since it was staged goes; the sender sends it again. Any other
            // failure is the DAG's own: the sender's copy will fail the same check in push().
            if (bad == errc::hash_mismatch && from_staging) {
                ::unlink(staged.c_str());
                ++resumed_.discarded;
            }
            break;
        }
        if (probe.blocks_verified() == 1) {
            if (auto refused = verify_root_size(probe.file_size())) return refused;
        }
        if (out.leaf) {
            ++resumed_.leaves;
            resumed_.bytes += out.bytes.size();
        }
    }
    resumed_.complete = probe.complete();
    return {};
}

// Feeds the verifier the held leaves the DAG names next, read back from staging or the store.
std::error_code Upload::replay_due() {
    while (replayed_ < resumed_.leaves) {
        const auto cid = verifier_.expected();
        if (!cid) return {};
        std::error_code ec;
        auto block = read_held(*cid, ec);
        if (!block && is_leaf_by_codec(cid->codec())) {
            return fail(errc::resume_state_damaged,
                        "held leaf " + name_of(*cid) + " of " + name_of(root_) + " can no longer be read");
        }
        if (!block) return {};  // an internal block the sender sends
        if (!is_leaf_by_codec(cid->codec())) {
            PbNode node;
            if (decode_dag_pb(*block, node, limits_.max_links) || !node.links.empty()) return {};
        }
        VerifiedData out;
        if (verifier_.push(*block, *cid, out) || !out.leaf) {
            return fail(errc::resume_state_damaged,
                        "held leaf " + name_of(*cid) + " of " + name_of(root_) + " does not fit the DAG");
        }
        ++replayed_;
    }
    return {};
}

std::error_code Upload::stage(const Cid& cid, ByteView block) {
    const fs::path target = dir_ / (name_of(cid) + kBlockSuffix);
    std::error_code ec;
    // An internal block is sent again on every resume: staged already, it costs nothing more.
    const bool fresh = !fs::exists(target, ec);
    const std::uint64_t charge = block.size() + limits_.upload_block_charge;
    if (fresh && charge_ + charge > resumed_.reserved) {
        return fail(errc::upload_over_reservation,
                    "the blocks of " + name_of(root_) + " take more than the " +
                        std::to_string(resumed_.reserved) + " bytes of disk its declared size of " +
                        std::to_string(declared_) + " reserved (each block counts " +
                        std::to_string(limits_.upload_block_charge) +
                        " bytes more, Limits::upload_block_charge)");
    }
    fs::path tmp = target;
    tmp += ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return local_error(tmp, "creating", errno);
    const bool written = detail::pwrite_all(fd, block, 0);
    const int err = errno;
    ::close(fd);
    if (!written) {
        ::unlink(tmp.c_str());
        return local_error(tmp, "writing", err);
    }
    if (::rename(tmp.c_str(), target.c_str()) != 0) return local_error(target, "renaming into", errno);
    if (fresh) charge_ += charge;
    return {};
}

std::error_code Upload::push(ByteView block, const std::optional<Cid>& claimed) {
    if (error_) return error_;
    if (!begun_) {
        if (auto ec = begin()) return ec;
    }
    if (committed_ || resumed_.complete) {
        return fail(errc::extra_block,
                    "the store already holds all of " + name_of(root_) + ": nothing to send");
    }
    if (auto ec = replay_due()) return ec;
    const auto expected = verifier_.expected();
    VerifiedData out;
    if (auto ec = verifier_.push(block, claimed, out)) {
        return fail(ec, "block " + std::to_string(received_) + " of the upload of " + name_of(root_) + ": " +
                            ec.message());
    }
    // The root is always the sender's first block: its filesize is checked before anything is staged.
    if (verifier_.blocks_verified() == 1) {
        if (auto ec = verify_root_size(verifier_.file_size())) return ec;
    }
    if (auto ec = stage(*expected, block)) return ec;
    ++received_;
    return {};
}

std::error_code Upload::commit() {
    if (error_) return error_;
    if (committed_) return {};
    if (!begun_) {
        if (auto ec = begin()) return ec;
    }
    if (!resumed_.complete) {
        if (auto ec = replay_due()) return ec;
        if (auto ec = verifier_.finish()) {
            return fail(ec, "the upload of " + name_of(root_) + " ended after " +
                                std::to_string(verifier_.blocks_verified()) +
                                " blocks, before the DAG was complete");
        }
    }
    // The staged bytes are durable before any block becomes servable: one syncfs for the whole DAG instead of
    // an fsync per block.
    const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || ::syncfs(dfd) != 0) {
        const int err = errno;
        if (dfd >= 0) ::close(dfd);
        return local_error(dir_, "syncing", err);
    }
    // Every block below the root first, then the root: the root never names a block that is not in place.
    const fs::path root_file = dir_ / (name_of(root_) + kBlockSuffix);
    std::error_code ec;
    std::vector<fs::path> staged;
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->path().extension() == kBlockSuffix && it->path() != root_file) staged.push_back(it->path());
    }
    if (ec) {
        ::close(dfd);
        return local_error(dir_, "listing", ec.value());
    }
    const auto move_in = [&](const fs::path& from) -> std::error_code {
        std::error_code parse_ec;
        const auto cid = Cid::parse(from.stem().string(), parse_ec);
        if (!cid) return {};  // not a name this class writes
        const fs::path target = store_.data_path(*cid);
        std::error_code dir_ec;
        fs::create_directories(target.parent_path(), dir_ec);
        if (dir_ec) return local_error(target.parent_path(), "creating", dir_ec.value());
        if (::rename(from.c_str(), target.c_str()) != 0) return local_error(target, "renaming into", errno);
        return {};
    };
    for (const auto& p : staged) {
        if (auto failed = move_in(p)) {
            ::close(dfd);
            return failed;
        }
    }
    // Those renames are durable before the root's: after a crash the root is servable only with its DAG.
    ::syncfs(dfd);
    const bool root_staged = fs::exists(root_file, ec);
    ::close(dfd);
    if (root_staged) {
        if (auto failed = move_in(root_file)) return failed;
        sync_directory(store_.data_path(root_).parent_path());
    }
    committed_ = true;
    discard();
    return {};
}

void Upload::abort() noexcept {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    lock_fd_ = -1;
}

void Upload::discard() noexcept {
    // Never begun, or refused before the lock was ours: the directory is not this object's to remove.
    if (lock_fd_ < 0) return;
    StoreLock store_lock(store_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
    abort();
}

std::size_t Upload::sweep(const Blockstore& store, std::chrono::system_clock::time_point now,
                          const Limits& limits, std::error_code& ec) {
    ec.clear();
    const fs::path staging = staging_root(store);
    if (!fs::is_directory(staging, ec)) return 0;
    StoreLock store_lock(store);
    if (!store_lock.held()) {
        ec = {errno, std::generic_category()};
        return 0;
    }
    const auto ttl = std::chrono::seconds(limits.partial_upload_ttl_s);
    std::size_t removed = 0;
    std::vector<fs::path> dirs;
    for (fs::directory_iterator it(staging, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_directory()) dirs.push_back(it->path());
    }
    if (ec) return 0;
    for (const auto& d : dirs) {
        struct stat st {};
        if (::stat(d.c_str(), &st) != 0) continue;
        const auto touched = std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
        if (now - touched < ttl) continue;
        // An Upload holding the directory is alive whatever its age (a slow engine): it stays.
        const int fd = lock_file(d / "lock", false);
        if (fd < 0) continue;
        std::error_code rm;
        fs::remove_all(d, rm);
        ::close(fd);
        if (rm) {
            ec = rm;
            continue;
        }
        ++removed;
    }
    return removed;
}

}  // namespace cyxp2p::content
