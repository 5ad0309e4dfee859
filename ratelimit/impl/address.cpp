#include <algorithm>
#include <cstdio>

#include <cyxp2p/ratelimit/address.hpp>

namespace cyxp2p::ratelimit {

Address Address::v4(const std::array<std::uint8_t, 4>& bytes) noexcept {
    Address a;
    a.bytes_[0] = 4;
    std::copy(bytes.begin(), bytes.end(), a.bytes_.begin() + 1);
    return a;
}

Address Address::v6(const std::array<std::uint8_t, 16>& bytes) noexcept {
    // RFC 4291 2.5.5.2: ::ffff:0:0/96 carries an IPv4 address.
    constexpr std::array<std::uint8_t, 12> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(mapped.begin(), mapped.end(), bytes.begin()))
        return v4({bytes[12], bytes[13], bytes[14], bytes[15]});
    Address a;
    a.bytes_[0] = 6;
    std::copy(bytes.begin(), bytes.begin() + 8, a.bytes_.begin() + 1);  // the /64 prefix
    return a;
}

std::optional<Address> Address::from_bytes(std::span<const std::uint8_t> bytes) noexcept {
    if (bytes.size() == 4) return v4({bytes[0], bytes[1], bytes[2], bytes[3]});
    if (bytes.size() == 16) {
        std::array<std::uint8_t, 16> b{};
        std::copy(bytes.begin(), bytes.end(), b.begin());
        return v6(b);
    }
    return std::nullopt;
}

Address Address::network() const noexcept {
    if (is_network()) return *this;
    Address n = *this;
    n.bytes_[0] |= 0x20;  // its own tag: a network key never collides with an address key
    if (is_v4())
        n.bytes_[4] = 0;  // /24
    else
        n.bytes_[7] = n.bytes_[8] = 0;  // /48 of the /64
    return n;
}

std::string Address::to_string() const {
    char buf[48];
    if (is_v4()) {
        std::snprintf(buf, sizeof buf, is_network() ? "%u.%u.%u.%u/24" : "%u.%u.%u.%u", bytes_[1], bytes_[2],
                      bytes_[3], bytes_[4]);
        return buf;
    }
    auto group = [&](std::size_t i) {
        return static_cast<unsigned>(bytes_[1 + 2 * i] << 8 | bytes_[2 + 2 * i]);
    };
    if (is_network())
        std::snprintf(buf, sizeof buf, "%x:%x:%x::/48", group(0), group(1), group(2));
    else
        std::snprintf(buf, sizeof buf, "%x:%x:%x:%x::/64", group(0), group(1), group(2), group(3));
    return buf;
}

}  // namespace cyxp2p::ratelimit
