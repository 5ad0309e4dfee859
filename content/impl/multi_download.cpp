#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <sys/stat.h>

#include <cyxp2p/content/dag_pb.hpp>
#include <cyxp2p/content/detail/posix_io.hpp>
#include <cyxp2p/content/detail/resume_record.hpp>
#include <cyxp2p/content/detail/sha256.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/multi_download.hpp>
#include <cyxp2p/content/unixfs.hpp>

namespace cyxp2p::content {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kRecordMagic = "cyxp2p-multi 1 ";

fs::path with_suffix(const fs::path& p, const char* suffix) {
    fs::path out = p;
    out += suffix;
    return out;
}

bool append_all(int fd, std::string_view s) {
    while (!s.empty()) {
        const ssize_t n = ::write(fd, s.data(), s.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            return false;
        }
        s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

std::string hex(const detail::Sha256Digest& d) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (auto b : d) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

std::optional<std::uint64_t> number(std::string_view s) {
    std::uint64_t v = 0;
    const auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (err != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

void sync_directory(const fs::path& file) {
    const auto dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

// Splits "a b c d" into exactly `n` fields.
bool fields(std::string_view line, std::string_view* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const auto sp = line.find(' ');
        out[i] = line.substr(0, sp);
        if (out[i].empty()) return false;
        if (i + 1 < n && sp == std::string_view::npos) return false;
        line = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
    }
    return line.empty();
}

}  // namespace

fs::path MultiDownload::partial_path(const fs::path& destination) {
    return with_suffix(destination, ".cyxp2p-multi");
}
fs::path MultiDownload::record_path(const fs::path& destination) {
    return with_suffix(destination, ".cyxp2p-multi.meta");
}
std::error_code MultiDownload::remove_state(const fs::path& destination) {
    for (const auto& p : {partial_path(destination), record_path(destination)}) {
        if (::unlink(p.c_str()) != 0 && errno != ENOENT) return {errno, std::generic_category()};
    }
    return {};
}

bool MultiDownload::is_local(std::error_code ec) {
    return ec == errc::no_space || ec == errc::write_failed;
}

MultiDownload::MultiDownload(const Cid& root, fs::path destination, const Limits& limits)
    : root_(root),
      dest_(std::move(destination)),
      partial_(partial_path(dest_)),
      record_(record_path(dest_)),
      limits_(limits) {}

MultiDownload::~MultiDownload() {
    if (!committed_) abort();
}

std::error_code MultiDownload::local_error(const fs::path& p, const char* doing, int err) {
    detail_ = std::string(doing) + " " + p.string() + ": " + std::strerror(err);
    const bool full = err == ENOSPC || err == EDQUOT || err == EFBIG;
    return make_error_code(full ? errc::no_space : errc::write_failed);
}

std::error_code MultiDownload::open() {
    // The record: a header naming the root, then one line per finished unit. A last line without its
    // newline is a torn append (the process died inside write) and is ignored; anything else that does not
    // parse, or a unit whose bytes no longer hash as recorded, discards the whole state.
    std::string text;
    if (const int rfd = ::open(record_.c_str(), O_RDONLY | O_CLOEXEC); rfd >= 0) {
        struct stat st {};
        if (::fstat(rfd, &st) == 0 && st.st_size > 0) {
            text.resize(static_cast<std::size_t>(st.st_size));
            if (!detail::read_at(rfd, reinterpret_cast<std::uint8_t*>(text.data()), text.size(), 0))
                text.clear();
        }
        ::close(rfd);
    }
    data_fd_ = ::open(partial_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (data_fd_ < 0) return local_error(partial_, "opening", errno);

    std::string why;
    const auto last_nl = text.rfind('\n');
    std::string_view body = last_nl == std::string::npos ? std::string_view{} : std::string_view(text);
    if (last_nl != std::string::npos) body = body.substr(0, last_nl + 1);
    struct stat dst {};
    if (::fstat(data_fd_, &dst) != 0) return local_error(partial_, "reading", errno);
    const auto data_size = static_cast<std::uint64_t>(dst.st_size);
    bool first = true;
    while (!body.empty() && why.empty()) {
        const auto nl = body.find('\n');
        const std::string_view line = body.substr(0, nl);
        body.remove_prefix(nl + 1);
        if (first) {
            first = false;
            if (line.substr(0, kRecordMagic.size()) != kRecordMagic) {
                why = "the record is not a multi-source resume record";
            } else if (line.substr(kRecordMagic.size()) != root_.to_string()) {
                why = "the record is for another CID";
            }
            continue;
        }
        std::string_view f[4];
        std::error_code cec;
        const auto off = fields(line, f, 4) ? number(f[0]) : std::nullopt;
        const auto len = off ? number(f[1]) : std::nullopt;
        const auto cid = len ? Cid::parse(f[2], cec) : std::nullopt;
        if (!cid || f[3].size() != 64) {
            why = "the record has a malformed line";
            break;
        }
        if (*off > data_size || *len > data_size - *off) {
            why = "the data file is shorter than the record says";
            break;
        }
        // Hashed in pieces: a unit may be a subtree of up to multi_unit_bytes.
        detail::Sha256 h;
        Bytes piece(std::min<std::uint64_t>(*len, 1u << 20));
        for (std::uint64_t done = 0; done < *len && why.empty();) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(piece.size(), *len - done));
            if (!detail::read_at(data_fd_, piece.data(), n, *off + done))
                why = "the data file cannot be read";
            h.update(ByteView(piece.data(), n));
            done += n;
        }
        if (!why.empty()) break;
        const auto digest = h.finish();
        // A raw leaf's CID is the hash of its bytes: checked against the DAG's own name, not only the record.
        if (hex(digest) != f[3] || (cid->codec() == Codec::raw && digest != cid->digest())) {
            why = "the bytes at offset " + std::to_string(*off) + " no longer hash as recorded";
            break;
        }
        held_.push_back({*off, *len, *cid, std::string(f[3])});
    }
    if (!why.empty() && !text.empty()) {
        discarded_ = why;
        held_.clear();
    }
    if (held_.empty() || !why.empty()) {
        if (::ftruncate(data_fd_, 0) != 0) return local_error(partial_, "truncating", errno);
        record_fd_ = ::open(record_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    } else {
        record_fd_ = ::open(record_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
        header_written_ = true;
        // Drop a torn last line, so the next append starts on a line of its own.
        if (record_fd_ >= 0 && last_nl + 1 != text.size() &&
            ::ftruncate(record_fd_, static_cast<off_t>(last_nl + 1)) != 0)
            return local_error(record_, "truncating", errno);
    }
    if (record_fd_ < 0) return local_error(record_, "opening", errno);
    if (!header_written_) {
        const std::string header = std::string(kRecordMagic) + root_.to_string() + "\n";
        if (!append_all(record_fd_, header) || ::fdatasync(record_fd_) != 0)
            return local_error(record_, "writing", errno);
        header_written_ = true;
    }
    units_.push_back(Unit{root_, 0, std::nullopt, 0, std::nullopt});
    fetch_units_ = 1;
    round_ = {0};
    return {};
}

Limits MultiDownload::unit_limits(std::size_t depth) const {
    // A unit's verifier counts depth from the unit; the DAG's limit counts from the root.
    Limits l = limits_;
    l.max_depth = depth >= l.max_depth ? 0 : l.max_depth - depth;
    return l;
}

bool MultiDownload::expandable(const Unit& u) const {
    return !u.expanded && !u.done && u.cid.codec() == Codec::dag_pb && fetch_units_ < limits_.multi_max_units;
}

void MultiDownload::start_round() {
    // All candidates of a round are chosen before any of them is fetched, from what verified parents said:
    // the plan depends on the DAG only. First every node over multi_unit_bytes; then, while the plan has
    // fewer than multi_min_units units, the largest node alone (the first in file order among equals).
    round_.clear();
    for (std::size_t i = 0; i < units_.size(); ++i) {
        const Unit& u = units_[i];
        if (expandable(u) && (!u.size || *u.size > limits_.multi_unit_bytes)) round_.push_back(i);
    }
    if (round_.empty() && fetch_units_ < limits_.multi_min_units) {
        std::optional<std::size_t> best;
        for (std::size_t i = 0; i < units_.size(); ++i) {
            const Unit& u = units_[i];
            if (!expandable(u)) continue;
            const Unit* b = best ? &units_[*best] : nullptr;
            if (!b || *u.size > *b->size || (*u.size == *b->size && u.offset < b->offset)) best = i;
        }
        if (best) round_.push_back(*best);
    }
    if (round_.empty()) finish_plan();
}

void MultiDownload::finish_plan() {
    planned_ = true;
    for (auto& u : units_) {
        if (u.expanded || u.done) continue;
        for (const auto& h : held_) {
            if (h.offset == u.offset && u.size && h.length == *u.size && h.cid == u.cid) {
                u.done = true;
                ++done_units_;
                ++units_resumed_;
                bytes_done_ += h.length;
                bytes_resumed_ += h.length;
                break;
            }
        }
    }
}

std::vector<Cid> MultiDownload::next_upper() const {
    std::vector<Cid> out;
    for (auto i : round_) {
        if (std::find(out.begin(), out.end(), units_[i].cid) == out.end()) out.push_back(units_[i].cid);
    }
    return out;
}

std::error_code MultiDownload::push_upper(const Cid& cid, ByteView block) {
    bool matched = false;
    // The same subtree may appear more than once in a DAG (a file of repeated chunks): one block serves all.
    for (std::size_t r = 0; r < round_.size();) {
        const std::size_t i = round_[r];
        if (units_[i].cid != cid) {
            ++r;
            continue;
        }
        matched = true;
        DagVerifier v(cid, unit_limits(units_[i].depth));
        VerifiedData out;
        if (auto ec = v.push(block, cid, out)) return ec;
        if (units_[i].size && v.file_size() != *units_[i].size)
            return make_error_code(errc::filesize_mismatch);
        if (!units_[i].size) {
            units_[i].size = file_size_ = v.file_size();
        }
        if (!out.bytes.empty()) {
            if (auto ec = write_at(units_[i].offset + out.offset, out.bytes)) return ec;
        }
        round_.erase(round_.begin() + static_cast<std::ptrdiff_t>(r));
        PbNode node;
        if (cid.codec() == Codec::dag_pb) {
            if (auto ec = decode_dag_pb(block, node, limits_.max_links)) return ec;
        }
        if (node.links.empty()) {  // a dag-pb leaf: the block was the whole unit
            units_[i].done = true;
            ++done_units_;
            bytes_done_ += *units_[i].size;
            continue;
        }
        // The verifier accepted the node, so these decode; checked anyway rather than assumed.
        UnixFsNode fsn;
        if (!node.data) return make_error_code(errc::unixfs_missing);
        if (auto ec = decode_unixfs(*node.data, fsn)) return ec;
        if (fsn.blocksizes.size() != node.links.size()) return make_error_code(errc::blocksizes_mismatch);
        std::uint64_t offset = units_[i].offset + fsn.data.size();
        const std::size_t depth = units_[i].depth + 1;
        if (depth > limits_.max_depth) return make_error_code(errc::too_deep);
        for (std::size_t k = 0; k < node.links.size(); ++k) {
            for (std::optional<std::size_t> a = i; a; a = units_[*a].parent) {
                if (units_[*a].cid == node.links[k].hash) return make_error_code(errc::cycle);
            }
            units_.push_back(Unit{node.links[k].hash, offset, fsn.blocksizes[k], depth, i});
            offset += fsn.blocksizes[k];
        }
        units_[i].expanded = true;
        fetch_units_ += node.links.size() - 1;
        ++done_units_;
    }
    if (!matched) return make_error_code(errc::unexpected_block);
    if (round_.empty()) start_round();
    return {};
}

void MultiDownload::set_sources(std::size_t n) {
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < units_.size(); ++i) {
        if (!units_[i].expanded && !units_[i].done) todo.push_back(i);
    }
    std::sort(todo.begin(), todo.end(),
              [this](std::size_t a, std::size_t b) { return units_[a].offset < units_[b].offset; });
    // Contiguous shares of about equal bytes: a unit goes to the share its midpoint falls in.
    shares_.assign(n, {});
    const std::uint64_t total = std::max<std::uint64_t>(file_size_, 1);
    for (auto u : todo) {
        const std::uint64_t mid2 = 2 * units_[u].offset + *units_[u].size;
        shares_[std::min<std::uint64_t>(n - 1, mid2 * n / (2 * total))].push_back(u);
    }
    // Stored last-first: the owner takes from the back, a thief from the front (the far end).
    for (auto& share : shares_) std::reverse(share.begin(), share.end());
}

std::optional<std::size_t> MultiDownload::take_from(std::vector<std::size_t>& q) {
    while (!q.empty()) {
        const std::size_t u = q.back();
        q.pop_back();
        if (!units_[u].done && units_[u].tasks == 0) return u;
    }
    return std::nullopt;
}

std::optional<MultiTask> MultiDownload::next_task(std::size_t s, bool steal, bool hedge) {
    if (s >= shares_.size()) return std::nullopt;
    std::optional<std::size_t> u = take_from(pool_);
    if (!u) u = take_from(shares_[s]);
    if (!u && steal) {
        // Work stealing: the not-yet-started half of the largest share, its far end.
        std::size_t victim = s, most = 0;
        for (std::size_t v = 0; v < shares_.size(); ++v) {
            if (v != s && shares_[v].size() > most) {
                most = shares_[v].size();
                victim = v;
            }
        }
        if (victim != s) {
            auto& from = shares_[victim];
            const std::size_t n = (from.size() + 1) / 2;
            shares_[s].assign(from.begin(), from.begin() + static_cast<std::ptrdiff_t>(n));
            from.erase(from.begin(), from.begin() + static_cast<std::ptrdiff_t>(n));
            u = take_from(shares_[s]);
        }
    }
    if (!u && hedge) {
        // Nothing unstarted anywhere: hedge the oldest unit another source is still fetching alone.
        for (const auto& [id, t] : tasks_) {
            if (t.source != s && units_[t.unit].tasks == 1 && !units_[t.unit].done) {
                u = t.unit;
                break;
            }
        }
    }
    if (!u) return std::nullopt;
    Unit& unit = units_[*u];
    const std::uint64_t id = next_task_id_++;
    tasks_.emplace(id, Task{*u, s, DagVerifier(unit.cid, unit_limits(unit.depth)),
                            std::make_unique<detail::Sha256>(), false});
    ++unit.tasks;
    return MultiTask{id, *u, unit.cid, unit.offset, *unit.size};
}

bool MultiDownload::stale(const MultiTask& t) const {
    const auto it = tasks_.find(t.id);
    return it == tasks_.end() || units_[it->second.unit].done;
}

std::error_code MultiDownload::push(const MultiTask& t, ByteView block, const std::optional<Cid>& claimed) {
    auto it = tasks_.find(t.id);
    if (it == tasks_.end() || units_[it->second.unit].done) return {};
    Task& task = it->second;
    const Unit& unit = units_[task.unit];
    VerifiedData out;
    if (auto ec = task.verifier.push(block, claimed, out)) return ec;
    if (!task.sized) {
        // The unit's root must hold exactly the bytes its parent's blocksizes entry promised, or its bytes
        // would land outside the unit's range.
        task.sized = true;
        if (task.verifier.file_size() != *unit.size) return make_error_code(errc::filesize_mismatch);
    }
    if (out.bytes.empty()) return {};
    task.hash->update(out.bytes);
    return write_at(unit.offset + out.offset, out.bytes);
}

std::error_code MultiDownload::finish(const MultiTask& t) {
    auto it = tasks_.find(t.id);
    if (it == tasks_.end()) return {};
    Task& task = it->second;
    Unit& unit = units_[task.unit];
    if (unit.done) {
        --unit.tasks;
        tasks_.erase(it);
        return {};
    }
    if (auto ec = task.verifier.finish()) return ec;
    if (task.verifier.bytes_verified() != *unit.size) return make_error_code(errc::filesize_mismatch);
    pending_.push_back({unit.offset, *unit.size, unit.cid, hex(task.hash->finish())});
    pending_bytes_ += *unit.size;
    bytes_done_ += *unit.size;
    unit.done = true;
    ++done_units_;
    --unit.tasks;
    tasks_.erase(it);
    if (pending_bytes_ >= limits_.checkpoint_bytes) return checkpoint();
    return {};
}

void MultiDownload::release(const MultiTask& t) {
    auto it = tasks_.find(t.id);
    if (it == tasks_.end()) return;
    Unit& unit = units_[it->second.unit];
    --unit.tasks;
    tasks_.erase(it);
    if (!unit.done && unit.tasks == 0) pool_.push_back(t.unit);
}

void MultiDownload::drop_source(std::size_t s) {
    if (s >= shares_.size()) return;
    pool_.insert(pool_.end(), shares_[s].begin(), shares_[s].end());
    shares_[s].clear();
}

std::error_code MultiDownload::write_at(std::uint64_t offset, ByteView bytes) {
    if (!detail::pwrite_all(data_fd_, bytes, offset)) return local_error(partial_, "writing", errno);
    return {};
}

std::error_code MultiDownload::checkpoint() {
    if (pending_.empty() || data_fd_ < 0 || record_fd_ < 0) return {};
    // Data first: a record line never names bytes that are not on disk.
    if (::fdatasync(data_fd_) != 0) return local_error(partial_, "syncing", errno);
    std::string lines;
    for (const auto& h : pending_) {
        lines += std::to_string(h.offset) + ' ' + std::to_string(h.length) + ' ' + h.cid.to_string() + ' ' +
                 h.sha256_hex + '\n';
    }
    if (!append_all(record_fd_, lines) || ::fdatasync(record_fd_) != 0)
        return local_error(record_, "writing", errno);
    pending_.clear();
    pending_bytes_ = 0;
    return {};
}

std::error_code MultiDownload::commit() {
    if (!complete()) return make_error_code(errc::missing_block);
    if (::ftruncate(data_fd_, static_cast<off_t>(file_size_)) != 0)
        return local_error(partial_, "truncating", errno);
    if (::fdatasync(data_fd_) != 0) return local_error(partial_, "syncing", errno);
    close_files();
    if (::rename(partial_.c_str(), dest_.c_str()) != 0) return local_error(dest_, "renaming to", errno);
    ::unlink(record_.c_str());
    sync_directory(dest_);
    committed_ = true;
    return {};
}

void MultiDownload::abort() noexcept {
    (void)checkpoint();
    close_files();
}

void MultiDownload::discard() noexcept {
    close_files();
    (void)remove_state(dest_);
}

void MultiDownload::close_files() noexcept {
    if (data_fd_ >= 0) ::close(data_fd_);
    if (record_fd_ >= 0) ::close(record_fd_);
    data_fd_ = record_fd_ = -1;
}

}  // namespace cyxp2p::content
