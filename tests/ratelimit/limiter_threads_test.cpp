// Several threads on one KeyedLimiter / ConnectionLimiter: exact totals, and clean under ThreadSanitizer.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <cyxp2p/ratelimit/connection_limiter.hpp>
#include <cyxp2p/ratelimit/keyed_limiter.hpp>

namespace cyxp2p::ratelimit {
namespace {

using namespace std::chrono_literals;
using ns = std::chrono::nanoseconds;
constexpr ns T = 5'000s;
constexpr int kThreads = 4;

template <typename F>
void run_threads(F f) {
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) ts.emplace_back(f, t);
    for (auto& t : ts) t.join();
}

TEST(KeyedLimiterThreads, SameKeyAdmitsExactlyTheBurst) {
    KeyedLimiter l({Rate{1, 1s, 1000}, 1024, 8});
    std::atomic<int> allowed{0}, limited{0};
    run_threads([&](int) {
        for (int i = 0; i < 10'000; ++i) {
            const Decision d = l.try_acquire("shared", T);
            if (d)
                ++allowed;
            else if (d.reason == errc::rate_limited)
                ++limited;
        }
    });
    EXPECT_EQ(allowed.load(), 1000);
    EXPECT_EQ(limited.load(), kThreads * 10'000 - 1000);
}

TEST(KeyedLimiterThreads, SameKeyWithTimeMovingAdmitsRateTimesTimePlusBurst) {
    // Every thread walks the same clock from T to T + 10 s in 1 ms steps; whichever thread gets there first
    // takes each new token, so the total is exact whatever the interleaving.
    KeyedLimiter l({Rate{100, 1s, 10}, 1024, 8});
    std::atomic<int> allowed{0};
    run_threads([&](int) {
        for (std::int64_t ms = 0; ms <= 10'000; ++ms)
            for (int k = 0; k < 2; ++k)
                if (l.try_acquire("shared", T + ns(ms * 1'000'000))) ++allowed;
    });
    EXPECT_EQ(allowed.load(), 100 * 10 + 10);
}

TEST(KeyedLimiterThreads, DifferentKeysDoNotInterfere) {
    KeyedLimiter l({Rate{1, 1s, 500}, 4096, 16});
    std::atomic<int> allowed{0};
    run_threads([&](int t) {
        for (int k = 0; k < 100; ++k) {
            // appended, not "t" + string: GCC 12 -Wrestrict false positive at -O3 (GCC bug 105329)
            const std::string key =
                std::string("t").append(std::to_string(t)).append("-k").append(std::to_string(k));
            for (int i = 0; i < 600; ++i)
                if (l.try_acquire(key, T)) ++allowed;
        }
    });
    EXPECT_EQ(allowed.load(), kThreads * 100 * 500);
    EXPECT_EQ(l.size(), static_cast<std::size_t>(kThreads * 100));
}

ConnectionLimits open_limits() {
    ConnectionLimits l;
    l.max_connections = 100'000;
    l.max_connections_per_address = 100'000;
    l.max_handshakes = 100'000;
    l.max_handshakes_per_address = 100'000;
    l.max_connections_per_network = 100'000;
    l.max_handshakes_per_network = 100'000;
    l.new_connections_per_address = Rate{1, 1s, 100'000};
    l.max_tracked_addresses = 100'000;
    l.shards = 8;
    return l;
}

TEST(ConnectionLimiterThreads, SameAddressAdmitsExactlyThePerAddressLimit) {
    ConnectionLimits lim = open_limits();
    lim.max_connections_per_address = 50;
    ConnectionLimiter c(lim);
    std::atomic<int> admitted{0};
    std::vector<std::vector<ConnectionPermit>> held(kThreads);
    run_threads([&](int t) {
        for (int i = 0; i < 100; ++i) {
            Admission a = c.admit(Address::v4({10, 0, 0, 1}), T);
            if (a) {
                ++admitted;
                held[static_cast<std::size_t>(t)].push_back(std::move(a.permit));
            } else {
                EXPECT_EQ(a.decision.reason, errc::too_many_connections_from_address);
            }
        }
    });
    EXPECT_EQ(admitted.load(), 50);
    EXPECT_EQ(c.connections(), 50u);
    held.clear();
    EXPECT_EQ(c.connections(), 0u);
    EXPECT_EQ(c.handshakes(), 0u);
}

TEST(ConnectionLimiterThreads, ManyAddressesAdmitExactlyTheGlobalLimit) {
    ConnectionLimits lim = open_limits();
    lim.max_connections = 300;
    ConnectionLimiter c(lim);
    std::atomic<int> admitted{0};
    std::vector<std::vector<ConnectionPermit>> held(kThreads);
    run_threads([&](int t) {
        for (int i = 0; i < 200; ++i) {
            const auto a4 = static_cast<std::uint8_t>(i);
            Admission a = c.admit(Address::v4({10, static_cast<std::uint8_t>(t), a4, 1}), T);
            if (a) {
                ++admitted;
                held[static_cast<std::size_t>(t)].push_back(std::move(a.permit));
            }
        }
    });
    EXPECT_EQ(admitted.load(), 300);
    EXPECT_EQ(c.connections(), 300u);
    held.clear();
    EXPECT_EQ(c.connections(), 0u);
}

TEST(ConnectionLimiterThreads, ChurnNeverOvershootsAndLeaksNothing) {
    ConnectionLimits lim = open_limits();
    lim.max_connections = 64;
    lim.max_handshakes = 16;
    lim.max_connections_per_address = 8;
    lim.max_handshakes_per_address = 2;
    ConnectionLimiter c(lim);
    std::atomic<bool> overshoot{false};
    run_threads([&](int t) {
        std::vector<ConnectionPermit> mine;
        for (int i = 0; i < 20'000; ++i) {
            const auto addr = static_cast<std::uint8_t>((i * 7 + t) % 13);
            Admission a = c.admit(Address::v4({172, 16, 0, addr}), T + ns(i));
            if (c.connections() > 64 || c.handshakes() > 16) overshoot = true;
            if (a) {
                if (i % 3 != 0) a.permit.handshake_done();
                mine.push_back(std::move(a.permit));
            }
            if (mine.size() > 10 || i % 5 == 0) {
                if (!mine.empty()) mine.erase(mine.begin());
            }
        }
    });
    EXPECT_FALSE(overshoot.load());
    EXPECT_EQ(c.connections(), 0u);
    EXPECT_EQ(c.handshakes(), 0u);
}

TEST(ConnectionLimiterThreads, EvictionsTellEachVictimExactlyOnce) {
    // Four threads fill a 16-slot handshake table from many networks, each registering an eviction callback,
    // finishing some handshakes and closing some connections: every eviction reaches its victim once, no
    // one else is told, and nothing is left over.
    ConnectionLimits lim = open_limits();
    lim.max_handshakes = 16;
    ConnectionLimiter c(lim);
    struct Held {
        ConnectionPermit permit;
        std::shared_ptr<std::atomic<int>> told;
    };
    std::atomic<bool> overshoot{false};
    std::atomic<std::uint64_t> evicting_admissions{0};
    std::atomic<int> total_told{0}, wrong{0};
    run_threads([&](int t) {
        std::vector<Held> mine;
        for (int i = 0; i < 20'000; ++i) {
            const auto net = static_cast<std::uint8_t>((i * 5 + t) % 200);
            Admission a = c.admit(Address::v4({10, static_cast<std::uint8_t>(t), net, 1}), T + ns(i));
            if (c.handshakes() > 16) overshoot = true;
            if (!a) continue;
            if (a.evicted_other) ++evicting_admissions;
            auto told = std::make_shared<std::atomic<int>>(0);
            a.permit.on_evicted([told, &total_told] {
                ++*told;
                ++total_told;
            });
            if (i % 7 == 0) a.permit.handshake_done();
            mine.push_back({std::move(a.permit), told});
            // Victims close as the node would; the rest close at random.
            for (auto it = mine.begin(); it != mine.end();) {
                // evicted() turns true under the limiter's lock; the callback follows on the evicting thread.
                if (it->permit.evicted() || (i + t) % 3 == 0) {
                    if (it->told->load() > 1) ++wrong;
                    it = mine.erase(it);
                } else {
                    ++it;
                }
                if (mine.size() < 8) break;
            }
        }
        for (auto& h : mine)
            if (h.told->load() > 1) ++wrong;
    });
    EXPECT_FALSE(overshoot.load());
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_EQ(c.evictions(), evicting_admissions.load());
    EXPECT_GT(c.evictions(), 0u);
    // Every permit registered right after its admission; one evicted before that is told at registration.
    EXPECT_EQ(static_cast<std::uint64_t>(total_told.load()), c.evictions());
    EXPECT_EQ(c.connections(), 0u);
    EXPECT_EQ(c.handshakes(), 0u);
}

}  // namespace
}  // namespace cyxp2p::ratelimit
