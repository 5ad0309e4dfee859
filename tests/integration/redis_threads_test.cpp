// RedisClient::call from several threads at once while the server is killed and restarted, over a unix
// socket and over rediss:// (the TLS relay thread): every callback runs exactly once, nothing crashes or
// races (tsan runs label threads), and the client is back once the server is.
#include <atomic>
#include <future>

#include <gtest/gtest.h>
#include <redis_server.hpp>
#include <redis_tls.hpp>
#include <support.hpp>

#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/redis.hpp>

namespace net = cyxp2p::net;
using namespace std::chrono_literals;
using cyxp2p::test::eventually;
using cyxp2p::test::RedisServer;

namespace {

void hammer(RedisServer& server, const net::RedisEndpoint& ep) {
    net::RedisLimits l;
    l.call_deadline = 2s;
    l.reconnect_min = 10ms;
    l.reconnect_max = 100ms;
    std::atomic<int> states{0};
    net::RedisClient client(ep, std::nullopt, l, [&states](bool, const std::string&) { states++; });
    ASSERT_TRUE(eventually([&] { return client.connected(); }, 10s));
    constexpr int kThreads = 4;
    constexpr int kCallsPerThread = 1500;
    std::atomic<int> done{0}, ok{0}, failed{0};
    std::atomic<bool> twice{false};
    std::vector<std::thread> callers;
    for (int t = 0; t < kThreads; ++t) {
        callers.emplace_back([&, t] {
            for (int i = 0; i < kCallsPerThread; ++i) {
                auto once = std::make_shared<std::atomic<bool>>(false);
                client.call({"INCR", "n" + std::to_string(t)}, [&, once](net::RedisReply r) {
                    if (once->exchange(true)) twice = true;
                    (r.error ? failed : ok)++;
                    done++;
                });
                // Spread the calls over the restarts (3 x 80 ms) on any build: 300 pauses of >= 1 ms.
                if (i % 5 == 0) std::this_thread::sleep_for(1ms);
            }
        });
    }
    for (int round = 0; round < 3; ++round) {
        std::this_thread::sleep_for(50ms);
        server.kill();
        std::this_thread::sleep_for(30ms);
        server.start();
    }
    for (auto& c : callers) c.join();
    ASSERT_TRUE(eventually([&] { return done.load() == kThreads * kCallsPerThread; }, 30s))
        << done.load() << " of " << kThreads * kCallsPerThread << " callbacks ran";
    EXPECT_FALSE(twice.load());
    EXPECT_GT(ok.load(), 0);
    EXPECT_GT(failed.load(), 0);  // the restarts did fail some
    EXPECT_GE(states.load(), 2);
    ASSERT_TRUE(eventually([&] { return client.connected(); }, 10s));
    std::promise<net::RedisReply> p;
    client.call({"PING"}, [&p](net::RedisReply r) { p.set_value(std::move(r)); });
    auto f = p.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_FALSE(f.get().error);
}

TEST(RedisThreads, UnixSocketWhileTheServerRestarts) {
    RedisServer server;
    std::error_code ec;
    auto ep = net::parse_redis_url(server.url(), ec);
    ASSERT_TRUE(ep);
    hammer(server, *ep);
}

TEST(RedisThreads, TlsWhileTheServerRestarts) {
    cyxp2p::test::RedisTlsFiles files;
    const auto port = cyxp2p::test::free_loopback_port();
    RedisServer server(files.server_args(port, false));
    std::error_code ec;
    auto ep = net::parse_redis_url("rediss://localhost:" + std::to_string(port), ec);
    ASSERT_TRUE(ep);
    ep->ca_file = files.ca();
    hammer(server, *ep);
}

}  // namespace
