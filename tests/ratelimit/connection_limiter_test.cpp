#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <cyxp2p/ratelimit/connection_limiter.hpp>

namespace cyxp2p::ratelimit {
namespace {

using namespace std::chrono_literals;
using ns = std::chrono::nanoseconds;
constexpr ns T = 5'000s;

Address ip(std::uint8_t last) {
    return Address::v4({198, 51, 100, last});
}

// Generous limits except where a test tightens one.
ConnectionLimits open() {
    ConnectionLimits l;
    l.max_connections = 1000;
    l.max_connections_per_address = 1000;
    l.max_handshakes = 1000;
    l.max_handshakes_per_address = 1000;
    l.max_connections_per_network = 1000;
    l.max_handshakes_per_network = 1000;
    l.new_connections_per_address = Rate{1000, 1s, 1000};
    l.max_tracked_addresses = 1000;
    l.shards = 4;
    return l;
}

TEST(ConnectionLimiter, PermitGivesBackItsSlotsOnDestruction) {
    ConnectionLimiter c(open());
    {
        Admission a = c.admit(ip(1), T);
        ASSERT_TRUE(a);
        EXPECT_TRUE(a.permit.holds_connection());
        EXPECT_TRUE(a.permit.in_handshake());
        EXPECT_EQ(c.connections(), 1u);
        EXPECT_EQ(c.handshakes(), 1u);
        EXPECT_EQ(c.connections(ip(1)), 1u);
        EXPECT_EQ(c.handshakes(ip(1)), 1u);
    }
    EXPECT_EQ(c.connections(), 0u);
    EXPECT_EQ(c.handshakes(), 0u);
    EXPECT_EQ(c.connections(ip(1)), 0u);
}

TEST(ConnectionLimiter, HandshakeDoneKeepsTheConnection) {
    ConnectionLimiter c(open());
    Admission a = c.admit(ip(1), T);
    ASSERT_TRUE(a);
    a.permit.handshake_done();
    a.permit.handshake_done();  // idempotent
    EXPECT_FALSE(a.permit.in_handshake());
    EXPECT_EQ(c.connections(), 1u);
    EXPECT_EQ(c.handshakes(), 0u);
    EXPECT_EQ(c.handshakes(ip(1)), 0u);
    a.permit.reset();
    a.permit.reset();  // idempotent
    EXPECT_FALSE(a.permit);
    EXPECT_EQ(c.connections(), 0u);
}

TEST(ConnectionLimiter, MovingAPermitMovesTheSlots) {
    ConnectionLimiter c(open());
    ConnectionPermit p = c.admit(ip(1), T).permit;
    ConnectionPermit q = std::move(p);
    EXPECT_FALSE(p);  // NOLINT(bugprone-use-after-move): the moved-from state is the point
    EXPECT_TRUE(q.in_handshake());
    p.reset();
    EXPECT_EQ(c.connections(), 1u);
    ConnectionPermit r = c.admit(ip(2), T).permit;
    r = std::move(q);  // r's own connection (ip 2) is given back, ip 1's is now r's
    EXPECT_EQ(c.connections(), 1u);
    EXPECT_EQ(c.connections(ip(2)), 0u);
    EXPECT_EQ(c.connections(ip(1)), 1u);
    std::vector<ConnectionPermit> v;
    v.push_back(std::move(r));
    v.clear();
    EXPECT_EQ(c.connections(), 0u);
    EXPECT_EQ(c.handshakes(), 0u);
}

TEST(ConnectionLimiter, ConcurrentConnectionsPerAddress) {
    ConnectionLimits l = open();
    l.max_connections_per_address = 3;
    ConnectionLimiter c(l);
    std::vector<ConnectionPermit> held;
    for (int i = 0; i < 3; ++i) held.push_back(c.admit(ip(1), T).permit);
    for (auto& p : held) ASSERT_TRUE(p);
    const Admission fourth = c.admit(ip(1), T);
    EXPECT_EQ(fourth.decision.reason, errc::too_many_connections_from_address);
    EXPECT_EQ(fourth.decision.retry_after, 0ns);
    EXPECT_FALSE(fourth.permit);
    EXPECT_TRUE(c.admit(ip(2), T));  // other addresses are not affected
    held.pop_back();
    EXPECT_TRUE(c.admit(ip(1), T));
}

TEST(ConnectionLimiter, HandshakesPerAddress) {
    ConnectionLimits l = open();
    l.max_handshakes_per_address = 2;
    ConnectionLimiter c(l);
    Admission a = c.admit(ip(1), T);
    Admission b = c.admit(ip(1), T);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(c.admit(ip(1), T).decision.reason, errc::too_many_handshakes_from_address);
    a.permit.handshake_done();
    Admission third = c.admit(ip(1), T);
    EXPECT_TRUE(third);
    EXPECT_EQ(c.connections(ip(1)), 3u);
    EXPECT_EQ(c.handshakes(ip(1)), 2u);
}

TEST(ConnectionLimiter, GlobalConnectionsAndHandshakes) {
    ConnectionLimits l = open();
    l.max_connections = 5;
    l.max_handshakes = 3;
    l.evict_oldest_handshake = false;
    ConnectionLimiter c(l);
    std::vector<ConnectionPermit> held;
    for (std::uint8_t i = 0; i < 3; ++i) held.push_back(c.admit(ip(i), T).permit);
    EXPECT_EQ(c.admit(ip(10), T).decision.reason, errc::too_many_handshakes);
    EXPECT_EQ(c.connections(), 3u);  // the refused attempt took nothing
    for (auto& p : held) p.handshake_done();
    held.push_back(c.admit(ip(3), T).permit);
    held.push_back(c.admit(ip(4), T).permit);
    ASSERT_TRUE(held.back());
    const Admission sixth = c.admit(ip(5), T);
    EXPECT_EQ(sixth.decision.reason, errc::too_many_connections);
    EXPECT_EQ(c.connections(), 5u);
    EXPECT_EQ(c.handshakes(), 2u);
    EXPECT_EQ(c.connections(ip(5)), 0u);
}

TEST(ConnectionLimiter, NewConnectionsPerSecondPerAddress) {
    ConnectionLimits l = open();
    l.new_connections_per_address = Rate{2, 1s, 3};
    ConnectionLimiter c(l);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.admit(ip(1), T)) << i;  // each permit released at once
    const Admission d = c.admit(ip(1), T);
    EXPECT_EQ(d.decision.reason, errc::connection_rate_limited);
    EXPECT_EQ(d.decision.retry_after, 500ms);
    EXPECT_FALSE(c.admit(ip(1), T + 500ms - 1ns));
    EXPECT_TRUE(c.admit(ip(1), T + 500ms));
    EXPECT_TRUE(c.admit(ip(2), T));
    // Backwards clock: nothing earned, wait counted from the caller's clock.
    EXPECT_EQ(c.admit(ip(1), T).decision.retry_after, 1s);
}

TEST(ConnectionLimiter, RefusedAttemptsTakeNoToken) {
    ConnectionLimits l = open();
    l.new_connections_per_address = Rate{1, 1s, 1};
    l.max_connections = 1;
    ConnectionLimiter c(l);
    Admission other = c.admit(ip(9), T);
    ASSERT_TRUE(other);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(c.admit(ip(1), T).decision.reason, errc::too_many_connections);
    other.permit.reset();
    EXPECT_TRUE(c.admit(ip(1), T));  // its one token is still there
}

TEST(ConnectionLimiter, Ipv6CountsPerSlash64AndMappedIpv4AsIpv4) {
    ConnectionLimits l = open();
    l.max_connections_per_address = 2;
    ConnectionLimiter c(l);
    std::array<std::uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    std::array<std::uint8_t, 16> b = a;
    b[15] = 2;
    b[8] = 0xff;
    Admission x = c.admit(Address::v6(a), T);
    Admission y = c.admit(Address::v6(b), T);
    ASSERT_TRUE(x && y);
    EXPECT_EQ(c.admit(Address::v6(a), T).decision.reason, errc::too_many_connections_from_address);
    b[7] = 2;  // another /64
    EXPECT_TRUE(c.admit(Address::v6(b), T));

    Admission v4 = c.admit(ip(7), T);
    std::array<std::uint8_t, 16> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 7};
    Admission m = c.admit(Address::v6(mapped), T);
    ASSERT_TRUE(v4 && m);
    EXPECT_EQ(c.connections(ip(7)), 2u);
}

TEST(ConnectionLimiter, TrackedAddressesAreBoundedAndConnectedOnesNeverEvicted) {
    ConnectionLimits l = open();
    l.max_connections = 4;
    l.max_tracked_addresses = 4;
    l.shards = 1;
    l.new_connections_per_address = Rate{1, 1s, 2};
    ConnectionLimiter c(l);
    std::vector<ConnectionPermit> held;
    for (std::uint8_t i = 0; i < 4; ++i) held.push_back(c.admit(ip(i), T + ns(i)).permit);
    EXPECT_EQ(c.tracked_addresses(), 4u);
    // Every tracked address has a live connection: nothing can be evicted and waiting alone will not help.
    const Admission full = c.admit(ip(50), T + 10ns);
    EXPECT_EQ(full.decision.reason, errc::address_table_full);
    EXPECT_EQ(full.decision.retry_after, 0ns);
    // ip 0 disconnects; its bucket (1 of 2 tokens) refills at T + 1 s: only then may it be forgotten.
    held[0].reset();
    EXPECT_EQ(c.tracked_addresses(), 4u);
    const Admission later = c.admit(ip(50), T + 20ns);
    EXPECT_EQ(later.decision.reason, errc::address_table_full);
    EXPECT_EQ(later.decision.retry_after, 1s - 20ns);
    EXPECT_EQ(c.connections(), 3u);
    held[1].reset();  // frees a global slot too, so the table is the only limit left
    EXPECT_FALSE(c.admit(ip(50), T + 1s - 1ns));
    EXPECT_TRUE(c.admit(ip(50), T + 1s));
    EXPECT_EQ(c.connections(ip(2)), 1u);
    EXPECT_EQ(c.connections(ip(3)), 1u);
}

TEST(ConnectionLimiter, AnAddressWithAFullBucketIsForgottenOnRelease) {
    ConnectionLimits l = open();
    l.shards = 1;
    l.new_connections_per_address = Rate{1, 1s, 1};
    ConnectionLimiter c(l);
    Admission a = c.admit(ip(1), T);
    Admission b = c.admit(ip(2), T + 2s);  // moves the limiter's time on
    ASSERT_TRUE(a && b);
    EXPECT_EQ(c.tracked_addresses(), 2u);
    a.permit.reset();  // ip 1's bucket is full again by T + 2 s: forgetting it changes nothing
    EXPECT_EQ(c.tracked_addresses(), 1u);
    b.permit.reset();  // ip 2 still owes its token: kept, so its rate limit holds
    EXPECT_EQ(c.tracked_addresses(), 1u);
    EXPECT_EQ(c.admit(ip(2), T + 2s).decision.reason, errc::connection_rate_limited);
    EXPECT_TRUE(c.admit(ip(1), T + 2s));
}

TEST(ConnectionLimiter, SizeOfState) {
    EXPECT_EQ(ConnectionLimiter::bytes_per_address(), 52u);
}

TEST(ConnectionLimiter, RejectsLimitsItCannotHonour) {
    ConnectionLimits l = open();
    l.max_tracked_addresses = l.max_connections - 1;
    EXPECT_THROW(ConnectionLimiter{l}, std::invalid_argument);
    l = open();
    l.shards = 6;
    EXPECT_THROW(ConnectionLimiter{l}, std::invalid_argument);
    l = open();
    l.new_connections_per_address.period = 0s;
    EXPECT_THROW(ConnectionLimiter{l}, std::invalid_argument);
    l = open();
    l.handshake_deadline.from_percent = 101;
    EXPECT_THROW(ConnectionLimiter{l}, std::invalid_argument);
    EXPECT_NO_THROW(ConnectionLimiter{});
}

}  // namespace
}  // namespace cyxp2p::ratelimit
