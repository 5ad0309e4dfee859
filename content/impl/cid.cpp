#include <algorithm>
#include <stdexcept>

#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/detail/sha256.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/multibase.hpp>
#include <cyxp2p/content/varint.hpp>

namespace cyxp2p::content {
namespace {

// multihash spec: varint(code) varint(length) digest.
std::error_code read_multihash(ByteView& in, Digest& digest) {
    std::uint64_t code = 0, length = 0;
    if (auto ec = read_varint(in, code))
        return ec == errc::varint_truncated ? make_error_code(errc::truncated_input) : ec;
    if (code != kSha256Code) return errc::unsupported_multihash;
    if (auto ec = read_varint(in, length))
        return ec == errc::varint_truncated ? make_error_code(errc::truncated_input) : ec;
    if (length != kSha256Length) return errc::wrong_digest_length;
    if (in.size() < kSha256Length) return errc::truncated_input;
    std::copy_n(in.begin(), kSha256Length, digest.begin());
    in = in.subspan(kSha256Length);
    return {};
}

}  // namespace

Cid Cid::of_block(int version, Codec codec, ByteView block) {
    if (version != 0 && version != 1) throw std::invalid_argument("CID version must be 0 or 1");
    if (version == 0 && codec != Codec::dag_pb) throw std::invalid_argument("CIDv0 is dag-pb only");
    return Cid(version, codec, detail::sha256(block));
}

std::optional<Cid> Cid::read(ByteView& in, std::error_code& ec) {
    ec.clear();
    ByteView cur = in;
    Digest digest{};
    // CID spec, "Decoding algorithm": a binary CID starting 0x12 0x20 is a CIDv0 multihash.
    if (!cur.empty() && cur[0] == kSha256Code) {
        if ((ec = read_multihash(cur, digest))) return std::nullopt;
        in = cur;
        return Cid::v0(digest);
    }
    std::uint64_t version = 0, codec = 0;
    if ((ec = read_varint(cur, version))) {
        if (ec == errc::varint_truncated) ec = errc::truncated_input;
        return std::nullopt;
    }
    if (version != 1) {
        ec = errc::bad_cid_version;
        return std::nullopt;
    }
    if ((ec = read_varint(cur, codec))) {
        if (ec == errc::varint_truncated) ec = errc::truncated_input;
        return std::nullopt;
    }
    if (codec != static_cast<std::uint64_t>(Codec::dag_pb) &&
        codec != static_cast<std::uint64_t>(Codec::raw)) {
        ec = errc::unsupported_codec;
        return std::nullopt;
    }
    if ((ec = read_multihash(cur, digest))) return std::nullopt;
    in = cur;
    return Cid::v1(static_cast<Codec>(codec), digest);
}

std::optional<Cid> Cid::from_bytes(ByteView bytes, std::error_code& ec) {
    auto cid = read(bytes, ec);
    if (cid && !bytes.empty()) {
        ec = errc::cid_trailing_bytes;
        return std::nullopt;
    }
    return cid;
}

std::optional<Cid> Cid::parse(std::string_view text, std::error_code& ec) {
    ec.clear();
    Bytes raw;
    if (text.empty()) {
        ec = errc::empty_string;
        return std::nullopt;
    }
    // CID spec: "If it's a string of length 46 and starts with Qm..., it's a CIDv0" (base58btc, no prefix).
    if (text.size() == 46 && text.substr(0, 2) == "Qm") {
        ec = base58btc_decode(text, raw);
    } else {
        ec = multibase_decode(text, raw);
    }
    if (ec) return std::nullopt;
    return from_bytes(raw, ec);
}

// Sized once and filled in place: at -O3, GCC 12 reports insert() into the 2-byte vector as an
// out-of-bounds memcpy (an -Warray-bounds false positive in libstdc++'s reallocation path).
Bytes Cid::multihash() const {
    Bytes out(2 + digest_.size());
    out[0] = static_cast<std::uint8_t>(kSha256Code);
    out[1] = static_cast<std::uint8_t>(kSha256Length);
    std::copy(digest_.begin(), digest_.end(), out.begin() + 2);
    return out;
}

Bytes Cid::bytes() const {
    if (version_ == 0) return multihash();
    Bytes out;
    append_varint(out, 1);
    append_varint(out, static_cast<std::uint64_t>(codec_));
    const Bytes mh = multihash();
    out.insert(out.end(), mh.begin(), mh.end());
    return out;
}

std::string Cid::to_string() const {
    if (version_ == 0) return base58btc_encode(bytes());
    // Appended, not "b" + string: GCC 12 flags operator+(const char*, string&&) with -Wrestrict at -O3
    // (GCC bug 105329).
    std::string out = "b";
    out += base32_lower_encode(bytes());
    return out;
}

bool Cid::matches(ByteView block) const {
    return detail::sha256(block) == digest_;
}

}  // namespace cyxp2p::content
