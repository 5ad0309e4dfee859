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

}  // namespace
}  // namespace cyxp2p::ratelimit
