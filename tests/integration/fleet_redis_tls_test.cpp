// rediss:// against a real redis-server with TLS on loopback (tests/support/redis_tls.hpp makes the
// certificates with openssl): calls over TLS, a wrong CA and a wrong host name refused, mutual TLS
// required by the server, the TLS file checks, deadlines and reconnects through the TLS relay.
#include <future>
#include <mutex>

#include <gtest/gtest.h>
#include <redis_server.hpp>
#include <redis_tls.hpp>
#include <support.hpp>
#include <sys/stat.h>

#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/redis.hpp>

namespace net = cyxp2p::net;
using namespace std::chrono_literals;
using cyxp2p::test::eventually;
using cyxp2p::test::RedisServer;
using cyxp2p::test::RedisTlsFiles;

namespace {

net::RedisReply call(net::RedisClient& c, std::vector<std::string> argv) {
    std::promise<net::RedisReply> p;
    c.call(std::move(argv), [&p](net::RedisReply r) { p.set_value(std::move(r)); });
    auto f = p.get_future();
    EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
    return f.get();
}

// A TLS redis-server on 127.0.0.1 (its certificate names "localhost" only).
struct TlsRedis {
    RedisTlsFiles files;
    std::uint16_t port = cyxp2p::test::free_loopback_port();
    RedisServer server;
    explicit TlsRedis(bool auth_clients = false) : server(files.server_args(port, auth_clients)) {}

    net::RedisEndpoint endpoint(const std::string& host = "localhost") const {
        std::error_code ec;
        auto ep = net::parse_redis_url("rediss://" + host + ":" + std::to_string(port), ec);
        EXPECT_TRUE(ep) << ec.message();
        ep->ca_file = files.ca();
        return *ep;
    }
};

// What the client reported through on_state, for the messages a refused connection carries.
struct StateLog {
    std::mutex mu;
    std::vector<std::string> downs;
    int ups = 0;
    std::function<void(bool, const std::string&)> callback() {
        return [this](bool up, const std::string& why) {
            std::lock_guard lock(mu);
            if (up)
                ++ups;
            else
                downs.push_back(why);
        };
    }
    std::string last_down() {
        std::lock_guard lock(mu);
        return downs.empty() ? "" : downs.back();
    }
};

net::RedisLimits generous() {
    net::RedisLimits l;
    l.call_deadline = 5s;  // correctness here, not deadlines on a loaded (asan) machine
    l.connect_timeout = 5s;
    return l;
}

TEST(RedisTls, CallsWorkOverRediss) {
    TlsRedis redis;
    net::RedisClient client(redis.endpoint(), std::nullopt, generous());
    ASSERT_TRUE(eventually([&] { return client.connected(); }));
    EXPECT_EQ(client.endpoint().describe(), "rediss://localhost:" + std::to_string(redis.port) + "/0");
    auto set = call(client, {"SET", "k", std::string(40'000, 'x')});  // larger than one TLS record
    ASSERT_FALSE(set.error) << set.error.message() << " " << set.str;
    auto get = call(client, {"GET", "k"});
    ASSERT_FALSE(get.error) << get.str;
    EXPECT_EQ(get.str, std::string(40'000, 'x'));
    // A pipeline through the relay, answered in order.
    constexpr std::size_t kCalls = 2000;
    std::vector<std::promise<net::RedisReply>> replies(kCalls);
    for (std::size_t i = 0; i < kCalls; ++i)
        client.call({"INCR", "n"}, [&replies, i](net::RedisReply r) { replies[i].set_value(std::move(r)); });
    for (std::size_t i = 0; i < kCalls; ++i) {
        auto f = replies[i].get_future();
        ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
        auto r = f.get();
        ASSERT_FALSE(r.error) << r.error.message() << " " << r.str;
        EXPECT_EQ(r.integer, static_cast<long long>(i + 1));
    }
    // The server saw it over TLS: the plain-TCP port is off, so the unix socket is its only other way in.
    EXPECT_NE(redis.server.cli({"GET", "n"}).find("2000"), std::string::npos);
}

TEST(RedisTls, WrongCaIsRefused) {
    TlsRedis redis;
    auto ep = redis.endpoint();
    ep.ca_file = redis.files.other_ca();
    StateLog log;
    net::RedisClient client(ep, std::nullopt, generous(), log.callback());
    ASSERT_TRUE(eventually([&] { return !log.last_down().empty(); }));
    EXPECT_NE(log.last_down().find("certificate is refused"), std::string::npos) << log.last_down();
    EXPECT_NE(log.last_down().find("--redis-ca-file"), std::string::npos) << log.last_down();
    std::this_thread::sleep_for(300ms);  // a few reconnect attempts: none may get through
    EXPECT_FALSE(client.connected());
    EXPECT_EQ(log.ups, 0);
    EXPECT_EQ(client.stats().connects, 0U);
    auto r = call(client, {"SET", "passed", "1"});
    EXPECT_EQ(r.error, net::errc::redis_unavailable);
    EXPECT_NE(r.str.find("certificate"), std::string::npos) << r.str;  // the reason travels with the call
    EXPECT_EQ(redis.server.cli({"EXISTS", "passed"}), "0\n");
}

TEST(RedisTls, WrongHostNameIsRefused) {
    TlsRedis redis;
    StateLog log;
    // Same server, same CA, but the URL names 127.0.0.1, which the certificate (DNS:localhost) does not.
    net::RedisClient client(redis.endpoint("127.0.0.1"), std::nullopt, generous(), log.callback());
    ASSERT_TRUE(eventually([&] { return !log.last_down().empty(); }));
    EXPECT_NE(log.last_down().find("mismatch"), std::string::npos) << log.last_down();
    EXPECT_FALSE(client.connected());
    EXPECT_EQ(call(client, {"PING"}).error, net::errc::redis_unavailable);
}

TEST(RedisTls, PlainRedisOnTheTlsPortGetsNoAnswer) {
    TlsRedis redis;
    StateLog log;
    std::error_code ec;
    auto plain = net::parse_redis_url("redis://localhost:" + std::to_string(redis.port), ec);
    ASSERT_TRUE(plain);
    net::RedisLimits l = generous();
    l.connect_timeout = 300ms;
    net::RedisClient client(*plain, std::nullopt, l, log.callback());
    // The TCP connect succeeds (plain redis:// sends nothing at connect); no command gets an answer.
    std::this_thread::sleep_for(200ms);
    EXPECT_TRUE(call(client, {"PING"}).error);
}

TEST(RedisTls, MutualTlsRequiredByTheServer) {
    TlsRedis redis(/*auth_clients=*/true);
    {
        StateLog log;
        net::RedisClient without(redis.endpoint(), std::nullopt, generous(), log.callback());
        ASSERT_TRUE(eventually([&] { return !log.last_down().empty(); }));
        EXPECT_NE(log.last_down().find("certificate"), std::string::npos) << log.last_down();
        std::this_thread::sleep_for(200ms);
        EXPECT_EQ(log.ups, 0);
        EXPECT_EQ(call(without, {"SET", "without", "1"}).error, net::errc::redis_unavailable);
    }
    auto ep = redis.endpoint();
    ep.cert_file = redis.files.client_cert();
    ep.key_file = redis.files.client_key();
    net::RedisClient with(ep, std::nullopt, generous());
    ASSERT_TRUE(eventually([&] { return with.connected(); }));
    auto r = call(with, {"SET", "with", "1"});
    EXPECT_FALSE(r.error) << r.str;
    EXPECT_EQ(redis.server.cli({"EXISTS", "with"}), "1\n");
    EXPECT_EQ(redis.server.cli({"EXISTS", "without"}), "0\n");
}

TEST(RedisTls, FilesAreCheckedUpFront) {
    RedisTlsFiles files;
    std::error_code ec;
    std::string why;
    net::RedisEndpoint ep = *net::parse_redis_url("rediss://localhost:6380", ec);
    ep.ca_file = files.ca();
    ep.cert_file = files.client_cert();
    ep.key_file = files.client_key();
    EXPECT_TRUE(net::check_redis_tls(ep, ec, why)) << why;

    auto refused = [&](net::RedisEndpoint e, const std::string& names) {
        EXPECT_FALSE(net::check_redis_tls(e, ec, why)) << names;
        EXPECT_EQ(ec, net::errc::redis_tls_file) << names;
        EXPECT_NE(why.find(names), std::string::npos) << why;
    };
    auto e = ep;
    e.ca_file = "/nonexistent/ca.pem";
    refused(e, "--redis-ca-file");
    e = ep;
    e.ca_file = files.client_key();  // not a certificate
    refused(e, "--redis-ca-file");
    e = ep;
    e.key_file.clear();
    refused(e, "--redis-key");
    e = ep;
    e.key_file = files.server_key();  // another certificate's key
    refused(e, "mismatch");
    ::chmod(files.client_key().c_str(), 0644);
    refused(ep, "chmod 600");
    ::chmod(files.client_key().c_str(), 0600);
    EXPECT_TRUE(net::check_redis_tls(ep, ec, why)) << why;
    // redis:// and unix:// have nothing to check.
    EXPECT_TRUE(net::check_redis_tls(*net::parse_redis_url("unix:///x", ec), ec, why));
}

TEST(RedisTls, DeadlinesHoldThroughTheRelay) {
    TlsRedis redis;
    net::RedisLimits l;
    l.call_deadline = 100ms;
    l.connect_timeout = 2s;
    net::RedisClient client(redis.endpoint(), std::nullopt, l);
    ASSERT_TRUE(eventually([&] { return client.connected(); }));
    ASSERT_FALSE(call(client, {"PING"}).error);
    redis.server.pause();  // accepts, never answers
    const auto start = std::chrono::steady_clock::now();
    auto r = call(client, {"PING"});
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.error, net::errc::redis_timeout);
    EXPECT_LT(took, 1s);  // the deadline (100 ms) and some scheduling, not the TCP timeout
    // Reconnecting to a stopped server: the TLS handshake cannot finish, and connect_timeout bounds it.
    EXPECT_TRUE(eventually([&] { return !client.connected(); }));
    redis.server.resume();
    ASSERT_TRUE(eventually([&] { return client.connected(); }, 10s));
    EXPECT_FALSE(call(client, {"PING"}).error);
}

TEST(RedisTls, KilledServerFailsFastAndReconnectsAfterRestart) {
    TlsRedis redis;
    net::RedisLimits l = generous();
    l.reconnect_min = 20ms;
    l.reconnect_max = 200ms;
    StateLog log;
    net::RedisClient client(redis.endpoint(), std::nullopt, l, log.callback());
    ASSERT_TRUE(eventually([&] { return client.connected(); }));
    ASSERT_FALSE(call(client, {"SET", "a", "1"}).error);
    redis.server.kill();
    ASSERT_TRUE(eventually([&] { return !client.connected(); }));  // noticed while idle
    const auto start = std::chrono::steady_clock::now();
    auto r = call(client, {"GET", "a"});
    EXPECT_EQ(r.error, net::errc::redis_unavailable);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);  // at once, not after a deadline
    redis.server.start();
    ASSERT_TRUE(eventually([&] { return client.connected(); }, 10s));
    auto again = call(client, {"SET", "b", "2"});
    EXPECT_FALSE(again.error) << again.str;
    EXPECT_GE(client.stats().connects, 2U);
    EXPECT_GE(client.stats().disconnects, 1U);
}

}  // namespace
