// Address: the unit of per-address limits, an IPv4 /32 or an IPv6 /64, built from raw address bytes, and the
// network that holds it (IPv4 /24, IPv6 /48), the unit of per-network limits.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace cyxp2p::ratelimit {

/// One IPv6 subscriber usually holds a whole /64, so limiting per /128 would hand them 2^64 budgets; the
/// /64 is the unit (as in fail2ban, nginx and Cloudflare practice). IPv4-mapped IPv6 (::ffff:a.b.c.d, what
/// a dual-stack socket reports) is the IPv4 address, not the /64 that holds all of IPv4.
/// No Asio types: the net module passes address_v4::to_bytes() / address_v6::to_bytes().
class Address {
  public:
    /// 4 bytes (IPv4) or 16 bytes (IPv6), network order; nullopt for any other length.
    static std::optional<Address> from_bytes(std::span<const std::uint8_t> bytes) noexcept;
    static Address v4(const std::array<std::uint8_t, 4>& bytes) noexcept;
    static Address v6(const std::array<std::uint8_t, 16>& bytes) noexcept;

    bool is_v4() const noexcept { return (bytes_[0] & 0x0F) == 4; }
    /// An IPv4 /24 or IPv6 /48 from network(), not a single address.
    bool is_network() const noexcept { return (bytes_[0] & 0xF0) != 0; }
    /// The network holding this address: the IPv4 /24 (the longest prefix routed between networks, so the
    /// least one party holds; RFC 7454 6.1.3) or the IPv6 /48 (one site, RFC 6177). network() of a network
    /// is itself. A network never equals an address, and its key() differs from every address key.
    Address network() const noexcept;
    /// Canonical key bytes: a family tag, then the 4 address bytes or the 8 prefix bytes (a network's
    /// trailing bytes are zero). A view into *this.
    std::span<const std::uint8_t> key() const noexcept { return {bytes_.data(), is_v4() ? 5u : 9u}; }
    /// "192.0.2.7", "2001:db8:1:2::/64", "192.0.2.0/24" or "2001:db8:1::/48", for logs.
    std::string to_string() const;

    friend bool operator==(const Address&, const Address&) = default;

  private:
    Address() = default;
    std::array<std::uint8_t, 9> bytes_{};
};

}  // namespace cyxp2p::ratelimit
