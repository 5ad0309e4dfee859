#include <algorithm>
#include <vector>

#include <gtest/gtest.h>

#include <cyxp2p/ratelimit/address.hpp>

namespace cyxp2p::ratelimit {
namespace {

TEST(Address, FromBytesAcceptsOnlyFourOrSixteen) {
    const std::vector<std::uint8_t> five{1, 2, 3, 4, 5};
    EXPECT_FALSE(Address::from_bytes(five));
    EXPECT_FALSE(Address::from_bytes({}));
    const std::vector<std::uint8_t> four{192, 0, 2, 1};
    ASSERT_TRUE(Address::from_bytes(four));
    EXPECT_TRUE(Address::from_bytes(four)->is_v4());
    EXPECT_EQ(Address::from_bytes(four)->to_string(), "192.0.2.1");
}

TEST(Address, Ipv6KeepsTheSlash64) {
    const std::array<std::uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x02,
                                         0xde, 0xad, 0xbe, 0xef, 0,    0,    0,    1};
    std::array<std::uint8_t, 16> b = a;
    b[8] = 0;
    b[15] = 9;
    EXPECT_EQ(Address::v6(a), Address::v6(b));
    EXPECT_FALSE(Address::v6(a).is_v4());
    EXPECT_EQ(Address::v6(a).to_string(), "2001:db8:1:2::/64");
    EXPECT_EQ(Address::v6(a).key().size(), 9u);
    b[7] = 3;
    EXPECT_NE(Address::v6(a), Address::v6(b));
}

TEST(Address, MappedIpv4IsIpv4) {
    const std::array<std::uint8_t, 16> m{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 5};
    EXPECT_TRUE(Address::v6(m).is_v4());
    EXPECT_EQ(Address::v6(m), Address::v4({203, 0, 113, 5}));
    EXPECT_EQ(Address::v6(m).to_string(), "203.0.113.5");
    EXPECT_EQ(Address::v6(m).key().size(), 5u);
    // Only ::ffff:0:0/96 is mapped; ::203.0.113.5 (deprecated compatible form) is an ordinary IPv6 /64.
    std::array<std::uint8_t, 16> compat = m;
    compat[10] = compat[11] = 0;
    EXPECT_FALSE(Address::v6(compat).is_v4());
}

TEST(Address, NetworkIsTheSlash24OrTheSlash48) {
    const Address a = Address::v4({192, 0, 2, 7});
    EXPECT_TRUE(a.network().is_network());
    EXPECT_FALSE(a.is_network());
    EXPECT_TRUE(a.network().is_v4());
    EXPECT_EQ(a.network(), Address::v4({192, 0, 2, 200}).network());
    EXPECT_NE(a.network(), Address::v4({192, 0, 3, 7}).network());
    EXPECT_EQ(a.network().to_string(), "192.0.2.0/24");
    EXPECT_EQ(a.network().network(), a.network());
    // A network is never one of its addresses, not even 192.0.2.0 itself, and its key differs.
    const Address zero = Address::v4({192, 0, 2, 0});
    EXPECT_NE(zero.network(), zero);
    EXPECT_FALSE(std::equal(zero.key().begin(), zero.key().end(), zero.network().key().begin(),
                            zero.network().key().end()));

    const std::array<std::uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x02,
                                          9,    9,    9,    9,    9,    9,    9,    9};
    std::array<std::uint8_t, 16> same_site = v6;
    same_site[6] = 0xff;  // another /64 of the same /48
    std::array<std::uint8_t, 16> other_site = v6;
    other_site[5] = 0x02;
    EXPECT_NE(Address::v6(v6), Address::v6(same_site));
    EXPECT_EQ(Address::v6(v6).network(), Address::v6(same_site).network());
    EXPECT_NE(Address::v6(v6).network(), Address::v6(other_site).network());
    EXPECT_FALSE(Address::v6(v6).network().is_v4());
    EXPECT_EQ(Address::v6(v6).network().to_string(), "2001:db8:1::/48");
    EXPECT_EQ(Address::v6(v6).network().key().size(), 9u);
    // Mapped IPv4 is grouped by its /24 like any IPv4 address.
    const std::array<std::uint8_t, 16> m{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 99};
    EXPECT_EQ(Address::v6(m).network(), a.network());
}

}  // namespace
}  // namespace cyxp2p::ratelimit
