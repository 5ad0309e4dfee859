#include <string>

#include <gtest/gtest.h>

#include <cyxp2p/ratelimit/keyed_limiter.hpp>

namespace cyxp2p::ratelimit {
namespace {

using namespace std::chrono_literals;
using ns = std::chrono::nanoseconds;
constexpr ns T = 5'000s;

KeyedLimits limits(Rate rate, std::size_t max_keys, std::size_t shards = 1) {
    return {rate, max_keys, shards};
}

Address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return Address::v4({a, b, c, d});
}
Address v6(std::uint16_t g0, std::uint16_t g3, std::uint16_t g7) {
    std::array<std::uint8_t, 16> b{};
    b[0] = static_cast<std::uint8_t>(g0 >> 8);
    b[1] = static_cast<std::uint8_t>(g0);
    b[6] = static_cast<std::uint8_t>(g3 >> 8);
    b[7] = static_cast<std::uint8_t>(g3);
    b[14] = static_cast<std::uint8_t>(g7 >> 8);
    b[15] = static_cast<std::uint8_t>(g7);
    return Address::v6(b);
}

TEST(KeyedLimiter, EachKeyHasItsOwnBucket) {
    KeyedLimiter l(limits(Rate{10, 1s, 3}, 64, 4));
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(l.try_acquire("alice", T));
    const Decision d = l.try_acquire("alice", T);
    EXPECT_EQ(d.reason, errc::rate_limited);
    EXPECT_EQ(d.retry_after, 100ms);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(l.try_acquire("bob", T)) << i;
    EXPECT_FALSE(l.try_acquire("bob", T));
    EXPECT_TRUE(l.try_acquire("alice", T + 100ms));
    EXPECT_FALSE(l.try_acquire("alice", T + 100ms));
    EXPECT_EQ(l.size(), 2u);
}

TEST(KeyedLimiter, CostPerRequest) {
    KeyedLimiter l(limits(Rate{10, 1s, 10}, 8));
    EXPECT_TRUE(l.try_acquire("download", T, 7));
    EXPECT_EQ(l.try_acquire("download", T, 4).retry_after, 100ms);
    EXPECT_TRUE(l.try_acquire("download", T, 3));
    EXPECT_EQ(l.try_acquire("upload", T, 11).reason, errc::exceeds_burst);
    EXPECT_EQ(l.size(), 1u);  // an impossible request from a new key leaves no state behind
}

TEST(KeyedLimiter, AddressesAggregateToSlash32AndSlash64) {
    KeyedLimiter l(limits(Rate{1, 1s, 1}, 64, 4));
    EXPECT_TRUE(l.try_acquire(v4(192, 0, 2, 7), T));
    EXPECT_FALSE(l.try_acquire(v4(192, 0, 2, 7), T));
    EXPECT_TRUE(l.try_acquire(v4(192, 0, 2, 8), T));  // IPv4: one address, one key
    // IPv4-mapped IPv6 is the same key as the IPv4 address.
    std::array<std::uint8_t, 16> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
    EXPECT_FALSE(l.try_acquire(*Address::from_bytes(mapped), T));
    // IPv6: the interface id (low 64 bits) does not make a new key; the /64 does.
    EXPECT_TRUE(l.try_acquire(v6(0x2001, 1, 1), T));
    EXPECT_FALSE(l.try_acquire(v6(0x2001, 1, 0xffff), T));
    EXPECT_TRUE(l.try_acquire(v6(0x2001, 2, 1), T));
    // A string key with an address's bytes is a different key.
    const Address a9 = v4(192, 0, 2, 9);
    const auto k = a9.key();
    EXPECT_TRUE(l.try_acquire(std::string(k.begin(), k.end()), T));
    EXPECT_TRUE(l.try_acquire(v4(192, 0, 2, 9), T));
}

TEST(KeyedLimiter, FullTableRefusesNewKeysUntilTheOldestIsIdle) {
    KeyedLimiter l(limits(Rate{1, 1s, 2}, 4));
    // append, not "k" + string: GCC 12 -Wrestrict false positive at -O3 (GCC bug 105329)
    for (int i = 0; i < 4; ++i)
        ASSERT_TRUE(l.try_acquire(std::string("k").append(std::to_string(i)), T + ns(i)));
    const Decision full = l.try_acquire("new", T + 4ns);
    EXPECT_EQ(full.reason, errc::table_full);
    // k0 (1 of 2 tokens left at T) is full again at T + 1 s.
    EXPECT_EQ(full.retry_after, 1s - 4ns);
    EXPECT_EQ(l.try_acquire("new", T + 1s - 1ns).reason, errc::table_full);
    EXPECT_TRUE(l.try_acquire("new", T + 1s));
    EXPECT_EQ(l.size(), 4u);
    // k1 took its token at T + 1 ns: idle at T + 1 s + 1 ns, not before.
    EXPECT_EQ(l.try_acquire("newer", T + 1s).reason, errc::table_full);
    EXPECT_TRUE(l.try_acquire("newer", T + 1s + 1ns));
    // k0 was evicted only once full, so it comes back with exactly the full bucket it had (k2, idle since
    // T + 1 s + 2 ns, makes room).
    EXPECT_TRUE(l.try_acquire("k0", T + 1s + 2ns));
    EXPECT_TRUE(l.try_acquire("k0", T + 1s + 2ns));
    EXPECT_EQ(l.try_acquire("k0", T + 1s + 2ns).reason, errc::rate_limited);
    EXPECT_EQ(l.size(), 4u);
}

TEST(KeyedLimiter, ManyNewKeysCannotEvictAKeyThatIsStillRefilling) {
    KeyedLimiter l(limits(Rate{1, 10s, 1}, 256, 4));
    ASSERT_TRUE(l.try_acquire("victim-of-limit", T));
    std::size_t refused = 0;
    for (int i = 0; i < 10'000; ++i)
        if (l.try_acquire("flood" + std::to_string(i), T + ns(i)).reason == errc::table_full) ++refused;
    EXPECT_GT(refused, 9'000u);
    EXPECT_LE(l.size(), 256u);
    // Still limited: the flood did not reset its bucket.
    const Decision d = l.try_acquire("victim-of-limit", T + 1s);
    EXPECT_EQ(d.reason, errc::rate_limited);
    EXPECT_EQ(d.retry_after, 9s);
}

TEST(KeyedLimiter, IdleKeysAreEvictedSoMemoryStaysBounded) {
    // 100,000 distinct keys, one every 10 ms; each is idle 1 s after its use, so about 100 are ever active.
    KeyedLimiter l(limits(Rate{1, 1s, 1}, 128, 1));
    for (int i = 0; i < 100'000; ++i)
        ASSERT_TRUE(l.try_acquire("peer" + std::to_string(i), T + ns(std::int64_t{i} * 10'000'000))) << i;
    EXPECT_EQ(l.size(), 128u);
    EXPECT_LE(l.memory_bytes(), 128 * KeyedLimiter::bytes_per_key() + 64);
}

TEST(KeyedLimiter, ClockGoingBackwardsGrantsNothing) {
    KeyedLimiter l(limits(Rate{10, 1s, 1}, 8));
    ASSERT_TRUE(l.try_acquire("k", T));
    EXPECT_EQ(l.try_acquire("k", T - 5s).retry_after, 5s + 100ms);
    EXPECT_FALSE(l.try_acquire("k", T + 100ms - 1ns));
    EXPECT_TRUE(l.try_acquire("k", T + 100ms));
}

TEST(KeyedLimiter, ZeroRateKeysAreNeverForgotten) {
    // With no refill a key is never idle, so evicting it would hand it a fresh burst: refuse newcomers.
    KeyedLimiter l(limits(Rate{0, 1s, 1}, 2));
    ASSERT_TRUE(l.try_acquire("a", T));
    ASSERT_TRUE(l.try_acquire("b", T));
    const Decision d = l.try_acquire("c", T + std::chrono::hours(24 * 365));
    EXPECT_EQ(d.reason, errc::table_full);
    EXPECT_EQ(d.retry_after, Decision::never());
    EXPECT_EQ(l.try_acquire("a", T + std::chrono::hours(24 * 365)).retry_after, Decision::never());
}

TEST(KeyedLimiter, SizeOfState) {
    EXPECT_EQ(KeyedLimiter::bytes_per_key(), 44u);
    KeyedLimiter l(limits(Rate{}, 1000, 8));
    EXPECT_EQ(l.capacity(), 1000u);
    EXPECT_EQ(KeyedLimiter(limits(Rate{}, 1001, 8)).capacity(), 1008u);
}

TEST(KeyedLimiter, RejectsLimitsItCannotHonour) {
    EXPECT_THROW(KeyedLimiter{limits(Rate{}, 8, 3)}, std::invalid_argument);
    EXPECT_THROW(KeyedLimiter{limits(Rate{}, 2, 4)}, std::invalid_argument);
    EXPECT_THROW(KeyedLimiter{limits(Rate{1, 0s, 1}, 8)}, std::invalid_argument);
}

}  // namespace
}  // namespace cyxp2p::ratelimit
