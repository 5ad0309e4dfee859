#include <limits>
#include <string>

#include <gtest/gtest.h>

#include <cyxp2p/replay/nonce_window.hpp>

#include "nonce_helpers.hpp"

namespace cyxp2p::replay {
namespace {

using namespace test;

constexpr ns T = 1'000'000s;  // a whole number of seconds: bucket edges fall on whole seconds

Limits small(std::size_t capacity, std::size_t shards = 1) {
    Limits l;
    l.nonce_capacity = capacity;
    l.shards = shards;
    return l;  // skew 30 s, buckets of 1 s
}

TEST(NonceWindow, AcceptsFreshNonceAndRejectsItsDuplicate) {
    NonceWindow w(small(64));
    EXPECT_TRUE(w.check("peer-a", nonce(1), T, T));
    const Verdict again = w.check("peer-a", nonce(1), T, T);
    EXPECT_EQ(again.reason, errc::duplicate_nonce);
    EXPECT_EQ(again.retry_after, 0ns);
    EXPECT_EQ(again.error(), make_error_code(errc::duplicate_nonce));
    // Same nonce under another key, and another nonce under the same key, are different entries.
    EXPECT_TRUE(w.check("peer-b", nonce(1), T, T));
    EXPECT_TRUE(w.check("peer-a", nonce(2), T, T));
    EXPECT_EQ(w.size(), 3u);
}

TEST(NonceWindow, KeysAreNotConfusedByConcatenation) {
    NonceWindow w(small(64));
    EXPECT_TRUE(w.check("ab", nonce(1), T, T));
    EXPECT_TRUE(w.check("a", nonce(1), T, T));
    EXPECT_TRUE(w.check("", nonce(1), T, T));
    EXPECT_EQ(w.check("ab", nonce(1), T, T).reason, errc::duplicate_nonce);
}

TEST(NonceWindow, DuplicateWithAFreshTimestampIsStillADuplicate) {
    NonceWindow w(small(64));
    ASSERT_TRUE(w.check("k", nonce(7), T - 10s, T));
    EXPECT_EQ(w.check("k", nonce(7), T + 5s, T + 1s).reason, errc::duplicate_nonce);
}

TEST(NonceWindow, SkewEdgesAreInclusive) {
    NonceWindow w(small(64));
    EXPECT_TRUE(w.check("k", nonce(1), T - 30s, T));
    EXPECT_EQ(w.check("k", nonce(2), T - 30s - 1ns, T).reason, errc::timestamp_too_old);
    EXPECT_TRUE(w.check("k", nonce(3), T + 30s, T));
    EXPECT_EQ(w.check("k", nonce(4), T + 30s + 1ns, T).reason, errc::timestamp_too_new);
    EXPECT_EQ(w.size(), 2u);  // refused timestamps take no room
}

TEST(NonceWindow, ConfigurableSkew) {
    Limits l = small(64);
    l.skew = 5s;
    NonceWindow w(l);
    EXPECT_TRUE(w.check("k", nonce(1), T - 5s, T));
    EXPECT_EQ(w.check("k", nonce(2), T - 5s - 1ns, T).reason, errc::timestamp_too_old);
    EXPECT_EQ(w.check("k", nonce(3), T + 5s + 1ns, T).reason, errc::timestamp_too_new);
}

TEST(NonceWindow, RememberedUntilTimestampPlusSkewThenFreedAtTheBucketEnd) {
    NonceWindow w(small(64));
    ASSERT_TRUE(w.check("k", nonce(1), T, T));
    // At exactly timestamp + skew the original timestamp still passes, so the nonce must still be known.
    EXPECT_EQ(w.check("k", nonce(1), T, T + 30s).reason, errc::duplicate_nonce);
    // One nanosecond later the original message is refused by its timestamp alone.
    EXPECT_EQ(w.check("k", nonce(1), T, T + 30s + 1ns).reason, errc::timestamp_too_old);
    // The entry (expiry T + 30 s) lives in bucket [T + 30 s, T + 31 s) and is freed when that bucket ends:
    // never earlier, at most one bucket width later.
    EXPECT_EQ(w.check("k", nonce(1), T + 31s - 1ns, T + 31s - 1ns).reason, errc::duplicate_nonce);
    EXPECT_EQ(w.size(), 1u);
    EXPECT_TRUE(w.check("k", nonce(1), T + 31s, T + 31s));
    EXPECT_EQ(w.size(), 1u);  // the old entry went, the new one came
}

TEST(NonceWindow, FutureTimestampIsRememberedForTwoSkews) {
    NonceWindow w(small(64));
    ASSERT_TRUE(w.check("k", nonce(1), T + 30s, T));
    EXPECT_EQ(w.check("k", nonce(1), T + 60s, T + 60s).reason, errc::duplicate_nonce);
    EXPECT_EQ(w.check("k", nonce(1), T + 61s - 1ns, T + 61s - 1ns).reason, errc::duplicate_nonce);
    EXPECT_TRUE(w.check("k", nonce(1), T + 61s, T + 61s));
}

TEST(NonceWindow, ClockGoingBackwardsCannotResurrectAnExpiredNonce) {
    NonceWindow w(small(64));
    ASSERT_TRUE(w.check("k", nonce(1), T, T));
    w.expire(T + 100s);
    EXPECT_EQ(w.size(), 0u);
    // `now` back at T: the window keeps T + 100 s, so the old message fails on its timestamp.
    EXPECT_EQ(w.check("k", nonce(1), T, T).reason, errc::timestamp_too_old);
    EXPECT_TRUE(w.check("k", nonce(2), T + 100s, T));
    EXPECT_EQ(w.check("k", nonce(3), T + 130s + 1ns, T).reason, errc::timestamp_too_new);
}

TEST(NonceWindow, FullWindowFailsClosedWithRetryAfter) {
    NonceWindow w(small(8));
    ASSERT_EQ(w.capacity(), 8u);
    for (std::uint64_t i = 0; i < 8; ++i) ASSERT_TRUE(w.check("k", nonce(i), T, T)) << i;
    const Verdict full = w.check("k", nonce(100), T, T);
    EXPECT_EQ(full.reason, errc::window_full);
    // All eight expire at T + 30 s, in the bucket that ends at T + 31 s.
    EXPECT_EQ(full.retry_after, 31s);
    EXPECT_EQ(w.check("other", nonce(101), T + 10s, T + 10s).retry_after, 21s);
    // A replay is still reported as a replay, not as "full".
    EXPECT_EQ(w.check("k", nonce(3), T, T).reason, errc::duplicate_nonce);
    EXPECT_EQ(w.check("k", nonce(100), T + 31s - 1ns, T + 31s - 1ns).reason, errc::window_full);
    EXPECT_EQ(w.size(), 8u);
    EXPECT_TRUE(w.check("k", nonce(100), T + 31s, T + 31s));
    EXPECT_EQ(w.size(), 1u);
}

TEST(NonceWindow, RetryAfterPointsAtTheOldestBucket) {
    NonceWindow w(small(4));
    ASSERT_TRUE(w.check("k", nonce(1), T - 20s, T));  // expires T + 10 s
    ASSERT_TRUE(w.check("k", nonce(2), T, T));
    ASSERT_TRUE(w.check("k", nonce(3), T, T));
    ASSERT_TRUE(w.check("k", nonce(4), T + 20s, T));
    EXPECT_EQ(w.check("k", nonce(5), T, T).retry_after, 11s);
    EXPECT_TRUE(w.check("k", nonce(5), T + 11s, T + 11s));  // exactly one slot came free
    EXPECT_EQ(w.check("k", nonce(6), T + 11s, T + 11s).reason, errc::window_full);
}

TEST(NonceWindow, ExpiryFreesMemory) {
    NonceWindow w(small(4096));
    const std::size_t empty = w.memory_bytes();
    for (std::uint64_t i = 0; i < 4000; ++i) ASSERT_TRUE(w.check("k", nonce(i), T, T));
    EXPECT_EQ(w.size(), 4000u);
    EXPECT_GE(w.memory_bytes(), empty + 4000 * (NonceWindow::bytes_per_entry() - 4));
    w.expire(T + 31s);
    EXPECT_EQ(w.size(), 0u);
    EXPECT_EQ(w.memory_bytes(), empty);
    for (std::uint64_t i = 0; i < 4096; ++i) ASSERT_TRUE(w.check("k", nonce(i), T + 31s, T + 31s)) << i;
    EXPECT_EQ(w.check("k", nonce(5000), T + 31s, T + 31s).reason, errc::window_full);
}

TEST(NonceWindow, SlidingLoadStaysWithinCapacity) {
    // 100 nonces per second for 10 minutes against a window sized by the rule rate x (2 x skew + bucket):
    // 100 x 61 = 6100 entries. Nothing may be refused and size stays at or under the bound.
    NonceWindow w(small(6100));
    std::uint64_t id = 0;
    for (ns now = T; now < T + 600s; now += 10ms) {
        ASSERT_TRUE(w.check("k", nonce(id++), now + 30s, now)) << id;  // worst case: timestamps at +skew
        ASSERT_LE(w.size(), 6100u);
    }
}

TEST(NonceWindow, ManyKeysDoNotEvictOneAnothersNonces) {
    NonceWindow w(small(1024, 4));
    ASSERT_TRUE(w.check("honest", nonce(42), T, T));
    // An attacker with many keys fills the window...
    std::size_t accepted = 0, full = 0;
    for (std::uint64_t i = 0; i < 5000; ++i) {
        const Verdict v = w.check("attacker-" + std::to_string(i), nonce(i, 9), T, T);
        if (v) ++accepted;
        if (v.reason == errc::window_full) ++full;
    }
    EXPECT_EQ(accepted + full, 5000u);
    EXPECT_EQ(w.size(), 1 + accepted);
    EXPECT_LE(w.size(), 1024u);
    EXPECT_GT(full, 0u);
    // ...but the honest key's nonce is still remembered: its replay is refused as a replay.
    EXPECT_EQ(w.check("honest", nonce(42), T + 1s, T + 1s).reason, errc::duplicate_nonce);
    // And every nonce the attacker got in is remembered too.
    for (std::uint64_t i = 0; i < 5000; ++i) {
        const Verdict v = w.check("attacker-" + std::to_string(i), nonce(i, 9), T, T);
        ASSERT_NE(v.reason, errc::timestamp_too_old);
        ASSERT_FALSE(v.accepted()) << i;
    }
}

TEST(NonceWindow, TenThousandKeysAllRemembered) {
    NonceWindow w(small(20000, 16));
    for (std::uint64_t i = 0; i < 10000; ++i)
        ASSERT_TRUE(w.check("peer" + std::to_string(i), nonce(i), T, T));
    for (std::uint64_t i = 0; i < 10000; ++i)
        ASSERT_EQ(w.check("peer" + std::to_string(i), nonce(i), T, T).reason, errc::duplicate_nonce) << i;
    EXPECT_EQ(w.size(), 10000u);
}

TEST(NonceWindow, HugeTimeJumpsAndExtremeTimestamps) {
    constexpr auto max = ns::max();
    constexpr auto min = ns::min();
    NonceWindow w(small(64));
    EXPECT_EQ(w.check("k", nonce(1), min, T).reason, errc::timestamp_too_old);
    EXPECT_EQ(w.check("k", nonce(1), max, T).reason, errc::timestamp_too_new);
    for (std::uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(w.check("k", nonce(i), T, T));
    // Jump ~100 years ahead: everything expires in one pass over the ring, and the window still works.
    const ns far = T + std::chrono::hours(24 * 365 * 100);
    EXPECT_TRUE(w.check("k", nonce(1), far, far));
    EXPECT_EQ(w.size(), 1u);
    // The very end of the representable range: no overflow, edges still exact.
    EXPECT_TRUE(w.check("k", nonce(2), max, max));
    EXPECT_EQ(w.check("k", nonce(2), max, max).reason, errc::duplicate_nonce);
    EXPECT_TRUE(w.check("k", nonce(3), max - 30s, max));
    EXPECT_EQ(w.check("k", nonce(4), max - 30s - 1ns, max).reason, errc::timestamp_too_old);
    EXPECT_EQ(w.size(), 2u);

    NonceWindow neg(small(64));  // and the start of it
    EXPECT_TRUE(neg.check("k", nonce(1), min, min));
    EXPECT_TRUE(neg.check("k", nonce(2), min + 30s, min));
    EXPECT_EQ(neg.check("k", nonce(3), min + 30s + 1ns, min).reason, errc::timestamp_too_new);
    EXPECT_EQ(neg.check("k", nonce(1), min + 1s, min + 1s).reason, errc::duplicate_nonce);
}

TEST(NonceWindow, NegativeTimesUseFloorBuckets) {
    NonceWindow w(small(64));
    ASSERT_TRUE(w.check("k", nonce(1), -100s, -100s));  // expires -70 s, bucket [-70 s, -69 s)
    EXPECT_EQ(w.check("k", nonce(1), -69s - 1ns, -69s - 1ns).reason, errc::duplicate_nonce);
    EXPECT_TRUE(w.check("k", nonce(1), -69s, -69s));
}

TEST(NonceWindow, CapacityIsRoundedUpToWholeShards) {
    EXPECT_EQ(NonceWindow(small(10, 4)).capacity(), 12u);
    EXPECT_EQ(NonceWindow(Limits{}).capacity(), std::size_t{1} << 20);
    EXPECT_EQ(NonceWindow::bytes_per_entry(), 28u);
}

TEST(NonceWindow, RejectsLimitsItCannotHonour) {
    Limits l = small(8);
    l.shards = 3;
    EXPECT_THROW(NonceWindow{l}, std::invalid_argument);
    l = small(8);
    l.shards = 0;
    EXPECT_THROW(NonceWindow{l}, std::invalid_argument);
    EXPECT_THROW(NonceWindow{small(2, 4)}, std::invalid_argument);
    l = small(8);
    l.skew = 0s;
    EXPECT_THROW(NonceWindow{l}, std::invalid_argument);
    l = small(8);
    l.bucket_width = -1s;
    EXPECT_THROW(NonceWindow{l}, std::invalid_argument);
    l = small(8);
    l.bucket_width = 1ns;  // 60e9 buckets: refuse rather than allocate them
    EXPECT_THROW(NonceWindow{l}, std::invalid_argument);
}

}  // namespace
}  // namespace cyxp2p::replay
