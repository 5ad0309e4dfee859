// Content identifiers (github.com/multiformats/cid) over sha2-256 multihashes.
//
// CIDv0 = the bare multihash 0x12 0x20 <32 bytes>, text = base58btc ("Qm..."), codec dag-pb implied.
// CIDv1 = varint(1) varint(codec) multihash, text = multibase; we print base32 lower ('b...') as kubo
// does. Only sha2-256 is accepted (kubo's default and the only hash our importer writes): a CID with
// another hash function is refused with unsupported_multihash rather than trusted blindly.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <cyxp2p/content/bytes.hpp>

namespace cyxp2p::content {

/// Multicodec codes (github.com/multiformats/multicodec, table.csv).
enum class Codec : std::uint64_t {
    raw = 0x55,
    dag_pb = 0x70,
};

inline constexpr std::uint64_t kSha256Code = 0x12;  // multihash code of sha2-256
inline constexpr std::size_t kSha256Length = 32;

using Digest = std::array<std::uint8_t, kSha256Length>;

class Cid {
  public:
    /// CIDv0 of a dag-pb block's digest.
    static Cid v0(const Digest& digest) noexcept { return Cid(0, Codec::dag_pb, digest); }
    static Cid v1(Codec codec, const Digest& digest) noexcept { return Cid(1, codec, digest); }
    /// Hashes `block` and names it. version 0 requires Codec::dag_pb (programmer error otherwise).
    static Cid of_block(int version, Codec codec, ByteView block);

    /// Parses a text CID: "Qm..." (46 base58btc characters) is CIDv0, anything else is multibase CIDv1.
    static std::optional<Cid> parse(std::string_view text, std::error_code& ec);
    /// Parses a whole binary CID.
    static std::optional<Cid> from_bytes(ByteView bytes, std::error_code& ec);
    /// Reads a binary CID from the front of `in`, advancing past it (CAR sections).
    static std::optional<Cid> read(ByteView& in, std::error_code& ec);

    int version() const noexcept { return version_; }
    Codec codec() const noexcept { return codec_; }
    const Digest& digest() const noexcept { return digest_; }

    Bytes bytes() const;            // binary form: v0 = multihash only
    Bytes multihash() const;        // 0x12 0x20 <digest>
    std::string to_string() const;  // v0: base58btc; v1: 'b' + base32 lower
    /// The same block named as CIDv1 (v0 -> v1 dag-pb), for display and blockstore keys.
    Cid to_v1() const noexcept { return Cid(1, codec_, digest_); }

    /// True when SHA-256(block) is this CID's digest.
    bool matches(ByteView block) const;

    friend bool operator==(const Cid&, const Cid&) = default;

  private:
    Cid(int version, Codec codec, const Digest& digest) noexcept
        : version_(version), codec_(codec), digest_(digest) {}

    int version_;
    Codec codec_;
    Digest digest_;
};

}  // namespace cyxp2p::content

template <>
struct std::hash<cyxp2p::content::Cid> {
    std::size_t operator()(const cyxp2p::content::Cid& c) const noexcept {
        std::size_t h = 0;
        for (std::size_t i = 0; i < sizeof h; ++i) h = (h << 8) | c.digest()[i];
        return h ^ static_cast<std::size_t>(c.codec()) ^ static_cast<std::size_t>(c.version());
    }
};
