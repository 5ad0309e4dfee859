// The pre-auth defences of ConnectionLimiter: per-network caps, eviction of the oldest handshake when the
// table is full, and deadlines that shrink with occupancy.
#include <atomic>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include <cyxp2p/ratelimit/adaptive_deadline.hpp>
#include <cyxp2p/ratelimit/connection_limiter.hpp>

namespace cyxp2p::ratelimit {
namespace {

using namespace std::chrono_literals;
using ns = std::chrono::nanoseconds;
constexpr ns T = 5'000s;

// net n, host h: 10.0.n.h, so each n is another /24.
Address host(std::uint8_t n, std::uint8_t h) {
    return Address::v4({10, 0, n, h});
}
Address v6(std::uint8_t site, std::uint8_t subnet) {
    return Address::v6({0x20, 0x01, 0x0d, 0xb8, 0, site, 0, subnet, 0, 0, 0, 0, 0, 0, 0, 1});
}

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

TEST(PreauthLimits, DefaultsLetOneNetworkTakeAQuarter) {
    const ConnectionLimits d;
    EXPECT_EQ(d.max_handshakes_per_network * 4, d.max_handshakes);
    EXPECT_EQ(d.max_connections_per_network * 4, d.max_connections);
    EXPECT_TRUE(d.evict_oldest_handshake);
    EXPECT_EQ(d.handshake_deadline.at_full, 1s);
}

TEST(PreauthLimits, ConnectionsPerIpv4Slash24) {
    ConnectionLimits l = open();
    l.max_connections_per_network = 3;
    ConnectionLimiter c(l);
    std::vector<ConnectionPermit> held;
    for (std::uint8_t h = 1; h <= 3; ++h) held.push_back(c.admit(host(1, h), T).permit);
    for (auto& p : held) ASSERT_TRUE(p);
    EXPECT_EQ(c.connections(host(1, 9).network()), 3u);
    const Admission fourth = c.admit(host(1, 4), T);  // another address, the same /24
    EXPECT_EQ(fourth.decision.reason, errc::too_many_connections_from_network);
    EXPECT_EQ(fourth.decision.retry_after, 0ns);
    EXPECT_EQ(c.connections(), 3u);
    EXPECT_EQ(c.connections(host(1, 4)), 0u);  // the refused attempt took nothing
    EXPECT_TRUE(c.admit(host(2, 4), T));       // another /24
    held[0].handshake_done();                  // authenticated connections still count
    EXPECT_FALSE(c.admit(host(1, 4), T));
    held.erase(held.begin());
    EXPECT_EQ(c.connections(host(1, 1).network()), 2u);
    EXPECT_TRUE(c.admit(host(1, 4), T));
}

TEST(PreauthLimits, HandshakesPerIpv6Slash48) {
    ConnectionLimits l = open();
    l.max_handshakes_per_network = 2;
    ConnectionLimiter c(l);
    Admission a = c.admit(v6(1, 1), T);
    Admission b = c.admit(v6(1, 2), T);  // another /64 of the same /48
    ASSERT_TRUE(a && b);
    EXPECT_EQ(c.handshakes(v6(1, 7).network()), 2u);
    EXPECT_EQ(c.admit(v6(1, 3), T).decision.reason, errc::too_many_handshakes_from_network);
    EXPECT_TRUE(c.admit(v6(2, 3), T));  // another /48
    a.permit.handshake_done();          // authenticated: its network has room for a handshake again
    EXPECT_EQ(c.handshakes(v6(1, 7).network()), 1u);
    EXPECT_EQ(c.connections(v6(1, 7).network()), 2u);
    EXPECT_TRUE(c.admit(v6(1, 3), T));
}

TEST(PreauthLimits, NetworksAreForgottenWithTheirLastConnection) {
    ConnectionLimits l = open();
    ConnectionLimiter c(l);
    {
        Admission a = c.admit(host(5, 1), T);
        ASSERT_TRUE(a);
        EXPECT_EQ(c.connections(host(5, 1).network()), 1u);
    }
    EXPECT_EQ(c.connections(host(5, 1).network()), 0u);
    EXPECT_EQ(c.handshakes(host(5, 1).network()), 0u);
}

// A flag per connection that the eviction callback sets; shared so it outlives the permit.
struct Told {
    std::shared_ptr<std::atomic<int>> count = std::make_shared<std::atomic<int>>(0);
    std::function<void()> fn() const {
        return [c = count] { ++*c; };
    }
};

TEST(PreauthEviction, AFullTableEvictsTheOldestHandshake) {
    ConnectionLimits l = open();
    l.max_handshakes = 3;
    ConnectionLimiter c(l);
    std::vector<ConnectionPermit> held;
    std::vector<Told> told(3);
    for (std::uint8_t n = 0; n < 3; ++n) {
        Admission a = c.admit(host(n, 1), T + ns(n));
        ASSERT_TRUE(a);
        EXPECT_FALSE(a.evicted_other);
        a.permit.on_evicted(told[n].fn());
        held.push_back(std::move(a.permit));
    }
    Admission fourth = c.admit(host(9, 1), T + 10ns);
    ASSERT_TRUE(fourth) << to_string(fourth.decision.reason);
    EXPECT_TRUE(fourth.evicted_other);
    EXPECT_EQ(c.evictions(), 1u);
    EXPECT_EQ(c.handshakes(), 3u);  // the slot changed hands, the global count did not move
    EXPECT_EQ(*told[0].count, 1);   // the oldest was told, exactly once, and only it
    EXPECT_EQ(*told[1].count, 0);
    EXPECT_EQ(*told[2].count, 0);
    EXPECT_TRUE(held[0].evicted());
    EXPECT_FALSE(held[1].evicted());
    EXPECT_FALSE(fourth.permit.evicted());
    // The evicted connection keeps its connection slot and its address's handshake count until it closes,
    // so its address cannot open a replacement on the strength of the eviction.
    EXPECT_EQ(c.connections(), 4u);
    EXPECT_EQ(c.handshakes(host(0, 1)), 1u);
    EXPECT_FALSE(held[0].handshake_done());  // too late: it must close
    EXPECT_EQ(c.handshakes(host(0, 1)), 0u);
    EXPECT_EQ(c.handshakes(), 3u);  // the newer connection's slot is untouched
    held[0].reset();
    EXPECT_EQ(c.connections(), 3u);
    EXPECT_EQ(c.handshakes(), 3u);
    // Next in line is the second oldest.
    ASSERT_TRUE(c.admit(host(9, 2), T + 11ns).evicted_other);
    EXPECT_EQ(*told[1].count, 1);
    EXPECT_EQ(*told[2].count, 0);
    held.clear();
    fourth.permit.reset();
    EXPECT_EQ(c.connections(), 0u);
    EXPECT_EQ(c.handshakes(), 0u);
    EXPECT_EQ(*told[2].count, 0);  // released normally: never told
}

TEST(PreauthEviction, AuthenticatedConnectionsAreNeverEvicted) {
    ConnectionLimits l = open();
    l.max_handshakes = 2;
    ConnectionLimiter c(l);
    Told first_told, second_told;
    Admission first = c.admit(host(1, 1), T);
    Admission second = c.admit(host(2, 1), T);
    first.permit.on_evicted(first_told.fn());
    second.permit.on_evicted(second_told.fn());
    EXPECT_TRUE(first.permit.handshake_done());  // authenticated: out of the handshake table
    Admission third = c.admit(host(3, 1), T);
    EXPECT_FALSE(third.evicted_other);  // a free slot
    Admission fourth = c.admit(host(4, 1), T);
    EXPECT_TRUE(fourth.evicted_other);
    EXPECT_EQ(*first_told.count, 0);
    EXPECT_EQ(*second_told.count, 1);  // the oldest still in handshake
    EXPECT_FALSE(first.permit.evicted());
    EXPECT_TRUE(first.permit.holds_connection());
}

TEST(PreauthEviction, RegisteringAfterTheEvictionRunsTheCallbackAtOnce) {
    ConnectionLimits l = open();
    l.max_handshakes = 1;
    ConnectionLimiter c(l);
    Admission a = c.admit(host(1, 1), T);
    Admission b = c.admit(host(2, 1), T);
    ASSERT_TRUE(b.evicted_other);
    Told told;
    a.permit.on_evicted(told.fn());
    EXPECT_EQ(*told.count, 1);
    // A permit that finished its handshake cannot be evicted, so its callback never runs.
    EXPECT_TRUE(b.permit.handshake_done());
    Told never;
    b.permit.on_evicted(never.fn());
    EXPECT_FALSE(c.admit(host(3, 1), T).evicted_other);
    EXPECT_EQ(*never.count, 0);
}

TEST(PreauthEviction, AFloodFromOneNetworkCannotEvictAnyone) {
    // One network holds at most its cap, below the table, so the table never fills from it alone.
    ConnectionLimits l = open();
    l.max_handshakes = 8;
    l.max_handshakes_per_network = 4;
    ConnectionLimiter c(l);
    Told honest_told;
    Admission honest = c.admit(host(200, 1), T);
    honest.permit.on_evicted(honest_told.fn());
    std::vector<ConnectionPermit> flood;
    int refused = 0;
    for (int i = 0; i < 1000; ++i) {
        Admission a = c.admit(host(66, static_cast<std::uint8_t>(i % 250)), T + ns(i));
        if (a) {
            EXPECT_FALSE(a.evicted_other);
            flood.push_back(std::move(a.permit));
        } else {
            EXPECT_EQ(a.decision.reason, errc::too_many_handshakes_from_network);
            ++refused;
        }
        if (flood.size() == 4 && i % 10 == 9) flood.erase(flood.begin());  // churn: close and reopen
    }
    EXPECT_GT(refused, 0);
    EXPECT_EQ(c.evictions(), 0u);
    EXPECT_EQ(*honest_told.count, 0);
    EXPECT_FALSE(honest.permit.evicted());
    EXPECT_TRUE(honest.permit.handshake_done());
}

TEST(PreauthEviction, PerAddressAndPerNetworkCapsStillApplyWhenFull) {
    ConnectionLimits l = open();
    l.max_handshakes = 2;
    l.max_handshakes_per_address = 1;
    ConnectionLimiter c(l);
    Admission a = c.admit(host(1, 1), T);
    Admission b = c.admit(host(2, 1), T);
    // The table is full, but this address is at its own cap: refused, nobody evicted.
    EXPECT_EQ(c.admit(host(1, 1), T).decision.reason, errc::too_many_handshakes_from_address);
    EXPECT_EQ(c.evictions(), 0u);
    EXPECT_FALSE(a.permit.evicted());
}

TEST(PreauthEviction, DisabledMeansRefused) {
    ConnectionLimits l = open();
    l.max_handshakes = 1;
    l.evict_oldest_handshake = false;
    ConnectionLimiter c(l);
    Admission a = c.admit(host(1, 1), T);
    const Admission b = c.admit(host(2, 1), T);
    EXPECT_EQ(b.decision.reason, errc::too_many_handshakes);
    EXPECT_EQ(c.connections(), 1u);
    EXPECT_FALSE(a.permit.evicted());
    EXPECT_EQ(c.evictions(), 0u);
}

TEST(PreauthEviction, MovedPermitsKeepTheirSlot) {
    ConnectionLimits l = open();
    l.max_handshakes = 1;
    ConnectionLimiter c(l);
    ConnectionPermit p = c.admit(host(1, 1), T).permit;
    Told told;
    p.on_evicted(told.fn());
    ConnectionPermit q = std::move(p);
    ASSERT_TRUE(c.admit(host(2, 1), T).evicted_other);
    EXPECT_EQ(*told.count, 1);
    EXPECT_TRUE(q.evicted());
    EXPECT_FALSE(p.evicted());  // NOLINT(bugprone-use-after-move): the moved-from state is the point
}

TEST(AdaptiveDeadline, FullUntilTheThresholdThenLinearToTheFloor) {
    const AdaptiveDeadline policy{25, 1'000ms};
    const auto d = [&](std::size_t used) { return adaptive_deadline(10'000ms, used, 100, policy); };
    EXPECT_EQ(d(0), 10'000ms);
    EXPECT_EQ(d(25), 10'000ms);
    EXPECT_LT(d(26), 10'000ms);
    EXPECT_EQ(d(50), 7'000ms);  // a third of the way from 25 % to 100 %: 10 s - 9 s / 3
    EXPECT_EQ(d(100), 1'000ms);
    EXPECT_EQ(d(5'000), 1'000ms);  // beyond capacity (cannot happen, still bounded)
    for (std::size_t u = 1; u <= 100; ++u) EXPECT_LE(d(u), d(u - 1)) << u;
}

TEST(AdaptiveDeadline, EdgeCases) {
    // A base already below the floor is never lengthened.
    EXPECT_EQ(adaptive_deadline(400ms, 100, 100, {25, 1'000ms}), 400ms);
    EXPECT_EQ(adaptive_deadline(400ms, 0, 100, {25, 1'000ms}), 400ms);
    // No capacity: always under pressure.
    EXPECT_EQ(adaptive_deadline(10s, 0, 0, {25, 1'000ms}), 1s);
    // from_percent 100: full deadline until the table is full.
    EXPECT_EQ(adaptive_deadline(10s, 99, 100, {100, 1'000ms}), 10s);
    EXPECT_EQ(adaptive_deadline(10s, 100, 100, {100, 1'000ms}), 1s);
    // from_percent 0: shrinks from the first connection.
    EXPECT_LT(adaptive_deadline(10s, 1, 100, {0, 1'000ms}), 10s);
    // Huge counts do not overflow.
    EXPECT_EQ(adaptive_deadline(10s, SIZE_MAX / 2, SIZE_MAX, {0, 1'000ms}).count() / 100, 55);
}

TEST(AdaptiveDeadline, TheLimiterUsesItsOccupancy) {
    ConnectionLimits l = open();
    l.max_handshakes = 4;
    l.handshake_deadline = {50, 1'000ms};
    ConnectionLimiter c(l);
    std::vector<ConnectionPermit> held;
    EXPECT_EQ(c.handshake_deadline(10s), 10s);
    held.push_back(c.admit(host(1, 1), T).permit);
    held.push_back(c.admit(host(2, 1), T).permit);
    EXPECT_EQ(c.handshake_deadline(10s), 10s);  // 50 %
    held.push_back(c.admit(host(3, 1), T).permit);
    EXPECT_EQ(c.handshake_deadline(10s), 5'500ms);  // 75 %: half way to the floor
    held.push_back(c.admit(host(4, 1), T).permit);
    EXPECT_EQ(c.handshake_deadline(10s), 1s);
    for (auto& p : held) p.handshake_done();
    EXPECT_EQ(c.handshake_deadline(10s), 10s);
}

}  // namespace
}  // namespace cyxp2p::ratelimit
