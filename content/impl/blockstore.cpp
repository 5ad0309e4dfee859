#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <vector>

#include <sys/stat.h>

#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/multibase.hpp>
#include <cyxp2p/content/varint.hpp>

namespace cyxp2p::content {
namespace fs = std::filesystem;
namespace {

// Version 1 records (no file identity) are still read; they are re-hashed on every read.
constexpr std::string_view kRefMagicV1 = "CYXREF1\n";
constexpr std::string_view kRefMagic = "CYXREF2\n";

std::error_code last_error() {
    return {errno, std::generic_category()};
}

std::string upper(std::string s) {
    for (auto& ch : s) {
        if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    }
    return s;
}

std::error_code write_all(int fd, ByteView bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return last_error();
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return {};
}

std::error_code read_exact(int fd, std::uint64_t offset, std::uint8_t* out, std::size_t n) {
    while (n > 0) {
        const ssize_t r = ::pread(fd, out, n, static_cast<off_t>(offset));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return last_error();
        if (r == 0) return errc::source_changed;  // the file got shorter
        out += r;
        n -= static_cast<std::size_t>(r);
        offset += static_cast<std::uint64_t>(r);
    }
    return {};
}

std::optional<Bytes> read_whole(const fs::path& p, std::size_t cap, std::error_code& ec) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ec = errno == ENOENT ? make_error_code(errc::block_not_found) : last_error();
        return std::nullopt;
    }
    struct stat st {};
    std::optional<Bytes> out;
    if (::fstat(fd, &st) != 0) {
        ec = last_error();
    } else if (static_cast<std::uint64_t>(st.st_size) > cap) {
        ec = errc::block_too_large;
    } else {
        Bytes b(static_cast<std::size_t>(st.st_size));
        if (!(ec = read_exact(fd, 0, b.data(), b.size()))) out = std::move(b);
    }
    ::close(fd);
    return out;
}

FileIdentity identity_of(const struct stat& st) {
    return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
            static_cast<std::uint64_t>(st.st_size),
            static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

bool take(ByteView& in, std::size_t n, ByteView& out) {
    if (in.size() < n) return false;
    out = in.first(n);
    in = in.subspan(n);
    return true;
}

}  // namespace

std::optional<Blockstore> Blockstore::open(const fs::path& dir, std::error_code& ec, const Limits& limits) {
    ec.clear();
    fs::create_directories(dir / "blocks", ec);
    if (ec) return std::nullopt;
    return Blockstore(fs::absolute(dir), limits);
}

fs::path Blockstore::base_path(const Cid& cid) const {
    // flatfs: key = base32 of the multihash; shard "next-to-last/2" = the 2 characters before the last.
    const std::string key = upper(base32_lower_encode(cid.multihash()));
    return dir_ / "blocks" / key.substr(key.size() - 3, 2) / key;
}

fs::path Blockstore::data_path(const Cid& cid) const {
    return fs::path(base_path(cid).string() + ".data");
}

std::error_code Blockstore::write_atomic(const fs::path& target, ByteView a, ByteView b) const {
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) return ec;
    std::string templ = target.string() + ".XXXXXX.tmp";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    const int fd = ::mkostemps(buf.data(), 4, O_CLOEXEC);
    if (fd < 0) return last_error();
    ::fchmod(fd, 0644);
    ec = write_all(fd, a);
    if (!ec) ec = write_all(fd, b);
    if (::close(fd) != 0 && !ec) ec = last_error();
    // rename() replaces atomically: a concurrent reader opens either no file or a complete one.
    if (!ec && ::rename(buf.data(), target.c_str()) != 0) ec = last_error();
    if (ec) ::unlink(buf.data());
    return ec;
}

std::error_code Blockstore::put(const Cid& cid, ByteView block, bool verified) const {
    if (block.size() > limits_.max_block_size) return errc::block_too_large;
    if (!verified && !cid.matches(block)) return errc::hash_mismatch;
    const fs::path target = data_path(cid);
    std::error_code ec;
    if (fs::exists(target, ec)) return {};
    return write_atomic(target, block);
}

std::error_code Blockstore::put_reference(const Cid& cid, const FileReference& ref) const {
    if (ref.length + ref.prefix.size() + ref.suffix.size() > limits_.max_block_size)
        return errc::block_too_large;
    Bytes rec(kRefMagic.begin(), kRefMagic.end());
    const std::string path = ref.file.string();
    append_varint(rec, path.size());
    rec.insert(rec.end(), path.begin(), path.end());
    append_varint(rec, ref.offset);
    append_varint(rec, ref.length);
    append_varint(rec, ref.prefix.size());
    rec.insert(rec.end(), ref.prefix.begin(), ref.prefix.end());
    append_varint(rec, ref.suffix.size());
    rec.insert(rec.end(), ref.suffix.begin(), ref.suffix.end());
    append_varint(rec, ref.identity ? 1 : 0);
    if (ref.identity) {
        append_varint(rec, ref.identity->device);
        append_varint(rec, ref.identity->inode);
        append_varint(rec, ref.identity->size);
        append_varint(rec, static_cast<std::uint64_t>(ref.identity->mtime_ns));
    }
    return write_atomic(fs::path(base_path(cid).string() + ".ref"), rec);
}

bool Blockstore::has(const Cid& cid) const {
    std::error_code ec;
    return fs::exists(data_path(cid), ec) || fs::exists(fs::path(base_path(cid).string() + ".ref"), ec);
}

std::error_code Blockstore::remove(const Cid& cid) const {
    std::error_code ec;
    for (const auto& p : {data_path(cid), fs::path(base_path(cid).string() + ".ref")}) {
        fs::remove(p, ec);  // false without an error when it is not there
        if (ec) return ec;
    }
    return {};
}

std::optional<Bytes> Blockstore::get(const Cid& cid, std::error_code& ec) const {
    ec.clear();
    if (auto copy = read_whole(data_path(cid), limits_.max_block_size, ec)) {
        if (!cid.matches(*copy)) {
            ec = errc::hash_mismatch;
            return std::nullopt;
        }
        return copy;
    }
    if (ec != errc::block_not_found) return std::nullopt;
    auto rec = read_whole(fs::path(base_path(cid).string() + ".ref"), 64 * 1024, ec);
    if (!rec) return std::nullopt;
    // Reference record: magic, varint-prefixed path, offset, length, prefix, suffix; version 2 adds a flag
    // and the file identity (device, inode, size, mtime_ns).
    ByteView in(*rec), magic, path, prefix, suffix;
    std::uint64_t path_len = 0, offset = 0, length = 0, n = 0, has_identity = 0;
    std::optional<FileIdentity> recorded;
    bool ok = take(in, kRefMagic.size(), magic) &&
              (as_chars(magic) == kRefMagic || as_chars(magic) == kRefMagicV1) &&
              !read_varint(in, path_len) && take(in, static_cast<std::size_t>(path_len), path) &&
              !read_varint(in, offset) && !read_varint(in, length) && !read_varint(in, n) &&
              take(in, static_cast<std::size_t>(n), prefix) && !read_varint(in, n) &&
              take(in, static_cast<std::size_t>(n), suffix);
    if (ok && as_chars(magic) == kRefMagic) {
        ok = !read_varint(in, has_identity) && has_identity <= 1;
        if (ok && has_identity == 1) {
            FileIdentity id;
            std::uint64_t mtime = 0;
            ok = !read_varint(in, id.device) && !read_varint(in, id.inode) && !read_varint(in, id.size) &&
                 !read_varint(in, mtime);
            id.mtime_ns = static_cast<std::int64_t>(mtime);
            recorded = id;
        }
    }
    if (!ok || !in.empty()) {
        ec = errc::io_error;
        return std::nullopt;
    }
    if (length + prefix.size() + suffix.size() > limits_.max_block_size) {
        ec = errc::block_too_large;
        return std::nullopt;
    }
    const std::string file(as_chars(path));
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ec = errno == ENOENT ? make_error_code(errc::source_changed) : last_error();
        return std::nullopt;
    }
    Bytes block;
    block.reserve(prefix.size() + static_cast<std::size_t>(length) +
                  suffix.size());  // one allocation, no copy
    block.assign(prefix.begin(), prefix.end());
    block.resize(prefix.size() + static_cast<std::size_t>(length));
    ec = read_exact(fd, offset, block.data() + prefix.size(), static_cast<std::size_t>(length));
    // fstat after the read: a file replaced or written to during it shows up as a changed identity.
    struct stat st {};
    const bool unchanged = !ec && recorded && ::fstat(fd, &st) == 0 && identity_of(st) == *recorded;
    ::close(fd);
    if (ec) return std::nullopt;
    block.insert(block.end(), suffix.begin(), suffix.end());
    // Unchanged since import: the bytes are the ones hashed then (and the engine verifies every block
    // anyway).
    if (!unchanged && !cid.matches(block)) {
        ec = errc::source_changed;
        return std::nullopt;
    }
    return block;
}

BlockSink Blockstore::sink(std::optional<fs::path> source) const {
    std::optional<fs::path> abs;
    std::optional<FileIdentity> identity;
    if (source) {
        abs = fs::absolute(*source);
        // Taken before the importer reads a byte, so any later write changes what get() compares. A file
        // modified within reference_settle_ms of now might still change inside the same timestamp tick:
        // it gets no identity and is re-hashed on every read.
        struct stat st {};
        struct timespec now {};
        if (::stat(abs->c_str(), &st) == 0 && ::clock_gettime(CLOCK_REALTIME, &now) == 0) {
            const auto id = identity_of(st);
            const std::int64_t now_ns = static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
            if (now_ns - id.mtime_ns >= static_cast<std::int64_t>(limits_.reference_settle_ms) * 1'000'000)
                identity = id;
        }
    }
    return [store = *this, abs, identity](const ImportedBlock& b) -> std::error_code {
        if (abs && b.leaf) {
            FileReference ref{
                *abs,
                b.file_offset,
                b.data_size,
                Bytes(b.bytes.begin(), b.bytes.begin() + static_cast<std::ptrdiff_t>(b.data_offset)),
                Bytes(b.bytes.begin() + static_cast<std::ptrdiff_t>(b.data_offset + b.data_size),
                      b.bytes.end()),
                identity};
            return store.put_reference(b.cid, ref);
        }
        return store.put(b.cid, b.bytes, true);
    };
}

}  // namespace cyxp2p::content
