// Several threads on one NonceWindow: exact totals, and clean under ThreadSanitizer.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <cyxp2p/replay/nonce_window.hpp>

#include "nonce_helpers.hpp"

namespace cyxp2p::replay {
namespace {

using namespace test;

constexpr ns T = 1'000'000s;
constexpr int kThreads = 4;

template <typename F>
void run_threads(F f) {
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) ts.emplace_back(f, t);
    for (auto& t : ts) t.join();
}

Limits limits(std::size_t capacity, std::size_t shards) {
    Limits l;
    l.nonce_capacity = capacity;
    l.shards = shards;
    return l;
}

TEST(NonceWindowThreads, SameKeySameNoncesEachAcceptedExactlyOnce) {
    NonceWindow w(limits(1 << 16, 8));
    constexpr std::uint64_t kNonces = 20'000;
    std::atomic<std::uint64_t> accepted{0}, duplicates{0};
    run_threads([&](int t) {
        for (std::uint64_t i = 0; i < kNonces; ++i) {
            // Each thread walks the same nonces from a different starting point, so they collide.
            const std::uint64_t n = (i + static_cast<std::uint64_t>(t) * 5000) % kNonces;
            const Verdict v = w.check("shared", nonce(n), T, T + ns(static_cast<std::int64_t>(i)));
            if (v)
                ++accepted;
            else if (v.reason == errc::duplicate_nonce)
                ++duplicates;
        }
    });
    EXPECT_EQ(accepted.load(), kNonces);
    EXPECT_EQ(duplicates.load(), kNonces * (kThreads - 1));
    EXPECT_EQ(w.size(), kNonces);
}

TEST(NonceWindowThreads, DifferentKeysAllAcceptedThenAllReplaysRefused) {
    NonceWindow w(limits(1 << 17, 16));
    constexpr std::uint64_t kNonces = 20'000;
    std::atomic<std::uint64_t> accepted{0}, refused{0};
    run_threads([&](int t) {
        const std::string key = "peer-" + std::to_string(t);
        for (std::uint64_t i = 0; i < kNonces; ++i)
            if (w.check(key, nonce(i), T, T)) ++accepted;
        for (std::uint64_t i = 0; i < kNonces; ++i)
            if (w.check(key, nonce(i), T + 1s, T + 1s).reason == errc::duplicate_nonce) ++refused;
    });
    EXPECT_EQ(accepted.load(), kNonces * kThreads);
    EXPECT_EQ(refused.load(), kNonces * kThreads);
    EXPECT_EQ(w.size(), kNonces * kThreads);
}

TEST(NonceWindowThreads, FullWindowAdmitsExactlyItsCapacity) {
    NonceWindow w(limits(1000, 1));
    std::atomic<std::uint64_t> accepted{0}, full{0};
    run_threads([&](int t) {
        for (std::uint64_t i = 0; i < 1000; ++i) {
            const Verdict v = w.check("k", nonce(i, static_cast<std::uint64_t>(t) + 1), T, T);
            if (v)
                ++accepted;
            else if (v.reason == errc::window_full)
                ++full;
        }
    });
    EXPECT_EQ(accepted.load(), 1000u);
    EXPECT_EQ(full.load(), 1000u * (kThreads - 1));
}

TEST(NonceWindowThreads, ExpiryRacingWithChecks) {
    // One thread moves time and expires while others insert: every accepted nonce counted once, and after
    // everything has expired the window is empty.
    NonceWindow w(limits(1 << 16, 4));
    std::atomic<std::uint64_t> accepted{0};
    std::atomic<std::int64_t> clock{T.count()};
    run_threads([&](int t) {
        if (t == 0) {
            for (int i = 0; i < 2000; ++i) w.expire(ns(clock.fetch_add(10'000'000) + 10'000'000));
            return;
        }
        for (std::uint64_t i = 0; i < 10'000; ++i) {
            const ns now(clock.load());
            // append, not "k" + string: GCC 12 -Wrestrict false positive at -O3 (GCC bug 105329)
            if (w.check(std::string("k").append(std::to_string(t)), nonce(i), now, now)) ++accepted;
        }
    });
    EXPECT_EQ(accepted.load(), 10'000u * (kThreads - 1));
    w.expire(ns(clock.load()) + 62s);
    EXPECT_EQ(w.size(), 0u);
}

}  // namespace
}  // namespace cyxp2p::replay
