#include <cyxp2p/content/dag_pb.hpp>
#include <cyxp2p/content/errc.hpp>

namespace cyxp2p::content {
namespace {

// Protobuf wire types (protobuf.dev/programming-guides/encoding).
constexpr std::uint8_t kVarint = 0;
constexpr std::uint8_t kLen = 2;

void put_varint(Bytes& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<std::uint8_t>(v | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<std::uint8_t>(v));
}

std::size_t pb_varint_size(std::uint64_t v) {
    std::size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}

// Protobuf varints are up to 10 bytes (64 bits). dag-pb spec: encoders write minimal varints, and a
// non-minimal one would give the same data two encodings, so it is refused.
std::error_code read_pb_varint(ByteView& in, std::uint64_t& value) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < in.size() && i < 10; ++i) {
        const std::uint8_t b = in[i];
        if (i == 9 && b > 1) return errc::varint_overflow;
        v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            if (b == 0 && i > 0) return errc::varint_not_minimal;
            value = v;
            in = in.subspan(i + 1);
            return {};
        }
    }
    return in.size() >= 10 ? errc::varint_overflow : errc::pb_truncated;
}

std::error_code read_len(ByteView& in, ByteView& field) {
    std::uint64_t len = 0;
    if (auto ec = read_pb_varint(in, len)) return ec;
    if (len > in.size()) return errc::pb_truncated;
    field = in.first(static_cast<std::size_t>(len));
    in = in.subspan(static_cast<std::size_t>(len));
    return {};
}

bool valid_utf8(ByteView s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const std::uint8_t c = s[i];
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1fu;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0fu;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (i + n >= s.size()) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
        if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += n + 1;
    }
    return true;
}

std::error_code decode_link(ByteView in, PbLink& link) {
    int last_field = 0;
    bool have_hash = false;
    while (!in.empty()) {
        std::uint64_t key = 0;
        if (auto ec = read_pb_varint(in, key)) return ec;
        const std::uint64_t field = key >> 3;
        const auto wire = static_cast<std::uint8_t>(key & 7);
        if (field < 1 || field > 3) return errc::pb_unknown_field;
        // dag-pb spec: PBLink fields appear in field-number order, each at most once.
        if (static_cast<int>(field) == last_field) return errc::pb_duplicate_field;
        if (static_cast<int>(field) < last_field) return errc::pb_field_order;
        last_field = static_cast<int>(field);
        if (field == 3) {
            if (wire != kVarint) return errc::pb_bad_wire_type;
            std::uint64_t tsize = 0;
            if (auto ec = read_pb_varint(in, tsize)) return ec;
            link.tsize = tsize;
            continue;
        }
        if (wire != kLen) return errc::pb_bad_wire_type;
        ByteView value;
        if (auto ec = read_len(in, value)) return ec;
        if (field == 1) {
            std::error_code ec;
            auto cid = Cid::from_bytes(value, ec);
            if (!cid) return ec;
            link.hash = *cid;
            have_hash = true;
        } else {
            if (!valid_utf8(value)) return errc::pb_bad_name;
            link.name = as_chars(value);
        }
    }
    // dag-pb spec: "Hash" is required in every link.
    if (!have_hash) return errc::pb_missing_hash;
    return {};
}

}  // namespace

void dag_pb_data_prefix(std::size_t data_size, Bytes& out) {
    out.push_back((1u << 3) | kLen);
    put_varint(out, data_size);
}

void encode_dag_pb(const PbNode& node, Bytes& out) {
    out.clear();
    for (const auto& l : node.links) {
        const Bytes hash = l.hash.bytes();
        std::size_t len = 1 + pb_varint_size(hash.size()) + hash.size();
        if (l.name) len += 1 + pb_varint_size(l.name->size()) + l.name->size();
        if (l.tsize) len += 1 + pb_varint_size(*l.tsize);
        out.push_back((2u << 3) | kLen);
        put_varint(out, len);
        out.push_back((1u << 3) | kLen);
        put_varint(out, hash.size());
        out.insert(out.end(), hash.begin(), hash.end());
        if (l.name) {
            out.push_back((2u << 3) | kLen);
            put_varint(out, l.name->size());
            out.insert(out.end(), l.name->begin(), l.name->end());
        }
        if (l.tsize) {
            out.push_back((3u << 3) | kVarint);
            put_varint(out, *l.tsize);
        }
    }
    if (node.data) {
        dag_pb_data_prefix(node.data->size(), out);
        out.insert(out.end(), node.data->begin(), node.data->end());
    }
}

std::error_code decode_dag_pb(ByteView in, PbNode& out, std::size_t max_links) {
    out.links.clear();
    out.data.reset();
    // Each field is one contiguous group: Links, Data, Links is invalid (IPIP-550 clarification).
    bool links_done = false;
    while (!in.empty()) {
        std::uint64_t key = 0;
        if (auto ec = read_pb_varint(in, key)) return ec;
        const std::uint64_t field = key >> 3;
        const auto wire = static_cast<std::uint8_t>(key & 7);
        if (field != 1 && field != 2) return errc::pb_unknown_field;
        if (wire != kLen) return errc::pb_bad_wire_type;
        ByteView value;
        if (auto ec = read_len(in, value)) return ec;
        if (field == 1) {
            if (out.data) return errc::pb_duplicate_field;
            links_done = !out.links.empty();
            out.data = value;
        } else {
            if (links_done) return errc::pb_field_order;
            if (out.links.size() >= max_links) return errc::too_many_links;
            PbLink link{Cid::v0(Digest{}), std::nullopt, std::nullopt};
            if (auto ec = decode_link(value, link)) return ec;
            out.links.push_back(link);
        }
    }
    return {};
}

}  // namespace cyxp2p::content
