#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <sys/stat.h>

#include <cyxp2p/content/detail/posix_io.hpp>
#include <cyxp2p/content/download.hpp>
#include <cyxp2p/content/errc.hpp>

namespace cyxp2p::content {
namespace fs = std::filesystem;
namespace {

std::optional<Bytes> read_file(const fs::path& p) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    struct stat st {};
    std::optional<Bytes> out;
    if (::fstat(fd, &st) == 0) {
        Bytes b(static_cast<std::size_t>(st.st_size));
        if (b.empty() || detail::read_at(fd, b.data(), b.size(), 0)) out = std::move(b);
    }
    ::close(fd);
    return out;
}

// A new or renamed directory entry survives a power cut only once its directory is synced.
void sync_directory(const fs::path& file) {
    const auto dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

fs::path with_suffix(const fs::path& p, const char* suffix) {
    fs::path out = p;
    out += suffix;
    return out;
}

}  // namespace

fs::path Download::partial_path(const fs::path& destination) {
    return with_suffix(destination, ".cyxp2p-partial");
}

fs::path Download::metadata_path(const fs::path& destination) {
    return with_suffix(destination, ".cyxp2p-partial.meta");
}

std::uint64_t Download::held_bytes(const fs::path& destination, const Cid& root) {
    auto bytes = read_file(metadata_path(destination));
    if (!bytes) return 0;
    std::string why;
    bool foreign = false;
    auto record = detail::decode_resume_record(*bytes, root, why, foreign);
    if (!record) return 0;
    std::uint64_t n = 0;
    for (const auto& l : record->leaves) n += l.length;
    return n;
}

ResumeInspection Download::inspect(const fs::path& destination, const Cid& root) {
    ResumeInspection r;
    std::error_code ec;
    const auto partial = partial_path(destination), meta = metadata_path(destination);
    r.exists = fs::exists(partial, ec) || fs::exists(meta, ec);
    auto bytes = read_file(meta);
    if (!bytes || bytes->empty()) {
        // A partial file without a record holds nothing verified: the next open() truncates it.
        return r;
    }
    std::string why;
    bool foreign = false;
    auto record = detail::decode_resume_record(*bytes, root, why, foreign);
    if (!record) {
        r.damaged = !foreign;
        r.problem = why;
        return r;
    }
    r.for_this_root = true;
    const int fd = ::open(partial.c_str(), O_RDONLY | O_CLOEXEC);
    const std::string bad = fd < 0 ? std::string("the partial file cannot be read: ") + std::strerror(errno)
                                   : detail::check_held_leaves(fd, record->leaves);
    if (fd >= 0) ::close(fd);
    if (!bad.empty() && !record->leaves.empty()) {
        r.damaged = true;
        r.problem = "its held data does not match the record (" + bad + ")";
        return r;
    }
    r.leaves = record->leaves.size();
    for (const auto& l : record->leaves) r.bytes += l.length;
    return r;
}

std::error_code Download::remove_state(const fs::path& destination) {
    for (const auto& p : {partial_path(destination), metadata_path(destination)}) {
        if (::unlink(p.c_str()) != 0 && errno != ENOENT) return {errno, std::generic_category()};
    }
    return {};
}

Download::Download(const Cid& root, fs::path destination, const Limits& limits)
    : root_(root),
      dest_(std::move(destination)),
      partial_(partial_path(dest_)),
      meta_(metadata_path(dest_)),
      limits_(limits),
      verifier_(root, limits) {}

Download::~Download() {
    abort();
}

std::error_code Download::fail(std::error_code ec) {
    if (!error_) error_ = ec;
    return error_;
}

std::error_code Download::local_error(const fs::path& path, const char* doing, int err) {
    detail_ = std::string(doing) + " " + path.string() + ": " + std::strerror(err);
    // EFBIG: the file size limit (RLIMIT_FSIZE) was reached; EDQUOT: the user's quota. Both mean "make room".
    const bool full = err == ENOSPC || err == EDQUOT || err == EFBIG;
    return make_error_code(full ? errc::no_space : errc::write_failed);
}

// Leaves the resume state empty: a fresh record naming the root, an empty partial file.
std::error_code Download::start_over(std::string reason) {
    if (!reason.empty()) {
        resumed_.discarded = true;
        resumed_.reason = std::move(reason);
    }
    resumed_.leaves = resumed_.bytes = 0;
    held_.clear();
    if (::ftruncate(data_fd_, 0) != 0) return local_error(partial_, "truncating", errno);
    Bytes header;
    detail::encode_resume_header(root_, header);
    if (::ftruncate(meta_fd_, 0) != 0 || !detail::pwrite_all(meta_fd_, header, 0) ||
        ::fdatasync(meta_fd_) != 0)
        return local_error(meta_, "writing", errno);
    meta_size_ = meta_budget_used_ = header.size();
    return {};
}

std::error_code Download::open() {
    if (open_) return error_;
    open_ = true;
    data_fd_ = ::open(partial_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (data_fd_ < 0) return fail(local_error(partial_, "creating", errno));
    auto existing = read_file(meta_);
    meta_fd_ = ::open(meta_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (meta_fd_ < 0) return fail(local_error(meta_, "creating", errno));
    sync_directory(partial_);
    if (!existing || existing->empty()) return fail(start_over(""));
    std::string why;
    bool foreign = false;
    auto record = detail::decode_resume_record(*existing, root_, why, foreign);
    if (!record) return fail(start_over(why));
    held_ = std::move(record->leaves);
    meta_size_ = meta_budget_used_ = record->good_end;
    // A torn last batch (a crash during an append) is cut off before anything is appended after it.
    if (meta_size_ < existing->size() && ::ftruncate(meta_fd_, static_cast<off_t>(meta_size_)) != 0)
        return fail(local_error(meta_, "truncating", errno));
    // Each held leaf is rebuilt from the partial file and hashed against its recorded CID before the sender
    // is asked to skip them: a partial file damaged or changed while no fetch ran is caught here and fetched
    // again.
    if (auto bad = detail::check_held_leaves(data_fd_, held_); !bad.empty()) {
        if (auto ec = start_over("its held data does not match the record (" + bad + " in " +
                                 partial_.string() + ")"))
            return fail(ec);
        return {};
    }
    resumed_.leaves = held_.size();
    for (const auto& l : held_) resumed_.bytes += l.length;
    return {};
}

// Feeds the verifier every held leaf the DAG names next, rebuilt from the partial file (already in place:
// nothing is written).
std::error_code Download::replay_due() {
    Bytes block;
    while (next_held_ < held_.size()) {
        const auto expected = verifier_.expected();
        const auto& l = held_[next_held_];
        if (!expected || !(*expected == l.cid)) return {};
        block.resize(l.prefix.size() + l.length + l.suffix.size());
        std::copy(l.prefix.begin(), l.prefix.end(), block.begin());
        std::copy(l.suffix.begin(), l.suffix.end(),
                  block.end() - static_cast<std::ptrdiff_t>(l.suffix.size()));
        VerifiedData out;
        const bool read = detail::read_at(data_fd_, block.data() + l.prefix.size(), l.length, l.offset);
        if (!read || verifier_.push(block, l.cid, out) || !out.leaf || out.offset != l.offset ||
            out.bytes.size() != l.length) {
            detail_ = "held leaf " + std::to_string(next_held_) + " of " + partial_.string() +
                      " does not fit the DAG";
            discard();
            return fail(errc::resume_state_damaged);
        }
        ++next_held_;
    }
    return {};
}

void Download::hold(ByteView block, const VerifiedData& out, const Cid& cid) {
    if (!holding_ || !out.leaf) return;
    detail::HeldLeaf l{cid, out.offset, static_cast<std::uint32_t>(out.bytes.size()), {}, {}};
    if (!detail::split_leaf(block, out.bytes, l.prefix, l.suffix)) {
        holding_ = false;
        return;
    }
    // Disk use of a fetch <= file size + 1% + 64 KiB: past the budget, leaves are still fetched, not held.
    const std::uint64_t budget =
        file_size() / limits_.resume_metadata_divisor + limits_.resume_metadata_slack;
    const std::uint64_t need =
        detail::encoded_entry_size(l) + (pending_.empty() ? detail::kBatchOverhead : 0);
    if (meta_budget_used_ + need > budget) {
        holding_ = false;
        return;
    }
    meta_budget_used_ += need;
    pending_bytes_ += l.length;
    pending_.push_back(std::move(l));
}

std::error_code Download::checkpoint() {
    if (pending_.empty() || data_fd_ < 0 || meta_fd_ < 0) return {};
    // The data first: a record must never claim bytes a crash could still lose.
    if (::fdatasync(data_fd_) != 0) return local_error(partial_, "syncing", errno);
    Bytes batch;
    detail::encode_resume_batch(pending_, batch);
    if (!detail::pwrite_all(meta_fd_, batch, meta_size_) || ::fdatasync(meta_fd_) != 0) {
        const int err = errno;
        if (::ftruncate(meta_fd_, static_cast<off_t>(meta_size_)) != 0) {
            // The torn batch stays; its checksum fails and the next open() ignores it.
        }
        return local_error(meta_, "writing", err);
    }
    meta_size_ += batch.size();
    pending_.clear();
    pending_bytes_ = 0;
    return {};
}

std::error_code Download::push(ByteView block, const std::optional<Cid>& claimed) {
    if (error_) return error_;
    if (committed_) return fail(errc::extra_block);
    if (!open_) {
        if (auto ec = open()) return ec;
    }
    if (auto ec = replay_due()) return ec;
    const bool held_outstanding = next_held_ < held_.size();
    VerifiedData out;
    const auto expected = verifier_.expected();
    if (auto ec = verifier_.push(block, claimed, out)) {
        // The sender skipped exactly our held leaves; if the DAG asks for something else while some are
        // still outstanding, the record, not the sender, disagrees with the DAG.
        if (held_outstanding && (ec == errc::block_out_of_order || ec == errc::unexpected_block)) {
            detail_ = "the held leaves in " + partial_.string() + " are not the ones the DAG names";
            discard();
            return fail(errc::resume_state_damaged);
        }
        abort();
        return fail(ec);
    }
    if (!out.bytes.empty() && !detail::pwrite_all(data_fd_, out.bytes, out.offset)) {
        const auto ec = local_error(partial_, "writing", errno);
        abort();  // what verified before this block is still held for the next attempt
        return fail(ec);
    }
    hold(block, out, *expected);
    if (pending_bytes_ >= limits_.checkpoint_bytes) {
        if (auto ec = checkpoint()) {
            abort();
            return fail(ec);
        }
    }
    return {};
}

std::error_code Download::commit() {
    if (error_) return error_;
    if (committed_) return {};
    if (!open_) {
        if (auto ec = open()) return ec;
    }
    if (auto ec = replay_due()) return ec;
    if (next_held_ < held_.size()) {
        detail_ = "the DAG ended before every held leaf of " + partial_.string() + " was named";
        discard();
        return fail(errc::resume_state_damaged);
    }
    if (auto ec = verifier_.finish()) {
        abort();
        return fail(ec);
    }
    // The partial file may be longer than the file (a state written by a crashed attempt): cut it exactly.
    if (::ftruncate(data_fd_, static_cast<off_t>(file_size())) != 0 || ::fsync(data_fd_) != 0) {
        const auto ec = local_error(partial_, "syncing", errno);
        abort();
        return fail(ec);
    }
    ::close(data_fd_);
    data_fd_ = -1;
    if (::rename(partial_.c_str(), dest_.c_str()) != 0) {
        const auto ec = local_error(dest_, "renaming into", errno);
        abort();
        return fail(ec);
    }
    committed_ = true;
    // Renamed before the record goes: a crash in between leaves a record without a partial file, which the
    // next open() starts over from, never a lost download.
    ::close(meta_fd_);
    meta_fd_ = -1;
    ::unlink(meta_.c_str());
    sync_directory(dest_);
    return {};
}

void Download::close_files() noexcept {
    if (data_fd_ >= 0) ::close(data_fd_);
    if (meta_fd_ >= 0) ::close(meta_fd_);
    data_fd_ = meta_fd_ = -1;
}

void Download::abort() noexcept {
    if (committed_) return;
    // Best effort (the disk may be full): the record still holds every earlier checkpoint, and the error
    // that stopped the transfer stays the one reported.
    const std::string first = detail_;
    if (checkpoint() && !first.empty()) detail_ = first;
    close_files();
}

void Download::discard() noexcept {
    close_files();
    pending_.clear();
    if (!committed_) {
        ::unlink(partial_.c_str());
        ::unlink(meta_.c_str());
    }
}

}  // namespace cyxp2p::content
