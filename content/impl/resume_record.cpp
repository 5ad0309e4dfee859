#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include <cyxp2p/content/detail/resume_record.hpp>
#include <cyxp2p/content/detail/sha256.hpp>

namespace cyxp2p::content::detail {
namespace {

constexpr std::string_view kMagic = "cyxp2p-resume\n";
constexpr std::size_t kDigest = 32;

void put(Bytes& out, std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void put_bytes(Bytes& out, ByteView b) {
    put(out, b.size(), 2);
    out.insert(out.end(), b.begin(), b.end());
}

struct Reader {
    ByteView in;
    bool ok = true;
    std::uint64_t get(int bytes) {
        if (!ok || in.size() < static_cast<std::size_t>(bytes)) {
            ok = false;
            return 0;
        }
        std::uint64_t v = 0;
        for (int i = 0; i < bytes; ++i) v = (v << 8) | in[static_cast<std::size_t>(i)];
        in = in.subspan(static_cast<std::size_t>(bytes));
        return v;
    }
    ByteView take(std::size_t n) {
        if (!ok || in.size() < n) {
            ok = false;
            return {};
        }
        auto b = in.first(n);
        in = in.subspan(n);
        return b;
    }
};

bool digest_matches(ByteView covered, ByteView digest) {
    const auto d = sha256(covered);
    return digest.size() == kDigest && std::equal(d.begin(), d.end(), digest.begin());
}

}  // namespace

void encode_resume_header(const Cid& root, Bytes& out) {
    out.assign(kMagic.begin(), kMagic.end());
    put(out, kResumeRecordVersion, 4);
    put_bytes(out, root.bytes());
    const auto d = sha256(out);
    out.insert(out.end(), d.begin(), d.end());
}

std::size_t encoded_entry_size(const HeldLeaf& leaf) {
    return 2 + leaf.cid.bytes().size() + 8 + 4 + 2 + leaf.prefix.size() + 2 + leaf.suffix.size();
}

void encode_resume_batch(std::span<const HeldLeaf> leaves, Bytes& out) {
    out.clear();
    put(out, leaves.size(), 4);
    for (const auto& l : leaves) {
        put_bytes(out, l.cid.bytes());
        put(out, l.offset, 8);
        put(out, l.length, 4);
        put_bytes(out, l.prefix);
        put_bytes(out, l.suffix);
    }
    const auto d = sha256(out);
    out.insert(out.end(), d.begin(), d.end());
}

std::optional<ResumeRecord> decode_resume_record(ByteView record, const Cid& root, std::string& why,
                                                 bool& foreign) {
    foreign = false;
    Reader r{record};
    const auto magic = r.take(kMagic.size());
    const auto version = r.get(4);
    const auto root_bytes = r.take(static_cast<std::size_t>(r.get(2)));
    const std::size_t header_size = record.size() - r.in.size();
    const auto digest = r.take(kDigest);
    if (!r.ok || as_chars(magic) != kMagic || !digest_matches(record.first(header_size), digest)) {
        why = "its metadata record is damaged";
        return std::nullopt;
    }
    if (version != kResumeRecordVersion) {
        why = "its metadata record has version " + std::to_string(version) + ", not " +
              std::to_string(kResumeRecordVersion);
        return std::nullopt;
    }
    std::error_code ec;
    auto named = Cid::from_bytes(root_bytes, ec);
    if (!named || !(*named == root)) {
        foreign = true;
        why = "it belongs to another CID" + (named ? " (" + named->to_string() + ")" : std::string());
        return std::nullopt;
    }
    ResumeRecord out;
    out.good_end = record.size() - r.in.size();
    while (!r.in.empty()) {
        const ByteView start = r.in;
        const auto count = r.get(4);
        std::vector<HeldLeaf> batch;
        for (std::uint64_t i = 0; r.ok && i < count; ++i) {
            auto cid = Cid::from_bytes(r.take(static_cast<std::size_t>(r.get(2))), ec);
            HeldLeaf l{cid.value_or(root), r.get(8), static_cast<std::uint32_t>(r.get(4)), {}, {}};
            const auto prefix = r.take(static_cast<std::size_t>(r.get(2)));
            const auto suffix = r.take(static_cast<std::size_t>(r.get(2)));
            if (!cid) r.ok = false;
            l.prefix.assign(prefix.begin(), prefix.end());
            l.suffix.assign(suffix.begin(), suffix.end());
            batch.push_back(std::move(l));
        }
        const std::size_t covered = start.size() - r.in.size();
        const auto sum = r.take(kDigest);
        // A torn append (a crash mid-write) or a damaged batch: the leaves before it still hold.
        if (!r.ok || count == 0 || !digest_matches(start.first(covered), sum)) break;
        for (auto& l : batch) out.leaves.push_back(std::move(l));
        out.good_end = record.size() - r.in.size();
    }
    return out;
}

std::string check_held_leaves(int fd, std::span<const HeldLeaf> leaves) {
    Bytes block;
    for (std::size_t i = 0; i < leaves.size(); ++i) {
        const auto& l = leaves[i];
        block.resize(l.prefix.size() + l.length + l.suffix.size());
        std::copy(l.prefix.begin(), l.prefix.end(), block.begin());
        std::copy(l.suffix.begin(), l.suffix.end(),
                  block.end() - static_cast<std::ptrdiff_t>(l.suffix.size()));
        if (!read_at(fd, block.data() + l.prefix.size(), l.length, l.offset) || !l.cid.matches(block))
            return "leaf " + std::to_string(i) + " at offset " + std::to_string(l.offset) +
                   " is damaged or was changed";
    }
    return {};
}

bool read_at(int fd, std::uint8_t* out, std::size_t n, std::uint64_t offset) {
    while (n > 0) {
        const ssize_t r = ::pread(fd, out, n, static_cast<off_t>(offset));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;  // an error, or the file is shorter than the record says
        out += r;
        n -= static_cast<std::size_t>(r);
        offset += static_cast<std::uint64_t>(r);
    }
    return true;
}

bool split_leaf(ByteView block, ByteView data, Bytes& prefix, Bytes& suffix) {
    if (data.size() > block.size()) return false;
    // The frame around a leaf's bytes is a dozen bytes (dag-pb + UnixFS tags and lengths): a mismatch at the
    // wrong place fails within the first bytes compared.
    for (std::size_t at = 0; at + data.size() <= block.size(); ++at) {
        if (data.empty() || std::memcmp(block.data() + at, data.data(), data.size()) == 0) {
            prefix.assign(block.begin(), block.begin() + static_cast<std::ptrdiff_t>(at));
            suffix.assign(block.begin() + static_cast<std::ptrdiff_t>(at + data.size()), block.end());
            return true;
        }
    }
    return false;
}

}  // namespace cyxp2p::content::detail
