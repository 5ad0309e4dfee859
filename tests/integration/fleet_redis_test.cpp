// The Redis client and the fleet's admission script against a real redis-server (tests/support/
// redis_server.hpp): URL and password-file rules, pipelining, the GCRA buckets on the server's clock,
// SET NX PX nonces and their TTLs, deadlines against a server that stops answering, and both failure
// policies.
#include <future>

#include <gtest/gtest.h>
#include <redis_server.hpp>
#include <support.hpp>
#include <sys/stat.h>

#include <cyxp2p/net/admission.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/redis.hpp>

namespace net = cyxp2p::net;
namespace protocol = cyxp2p::protocol;
using namespace std::chrono_literals;
using cyxp2p::test::eventually;
using cyxp2p::test::RedisServer;
using protocol::errc;

namespace {

net::RedisEndpoint endpoint(const RedisServer& r) {
    std::error_code ec;
    auto ep = net::parse_redis_url(r.url(), ec);
    EXPECT_TRUE(ep) << ec.message();
    return *ep;
}

protocol::Now wall_now() {
    const auto wall = std::chrono::system_clock::now().time_since_epoch();
    const auto mono = std::chrono::steady_clock::now().time_since_epoch();
    return {.mono = std::chrono::duration_cast<protocol::Time>(mono),
            .wall = std::chrono::duration_cast<protocol::Time>(wall)};
}

protocol::AdmissionRequest request(protocol::AdmissionRequest::Step step, std::uint8_t nonce_byte,
                                   std::string subject = "user-1") {
    protocol::AdmissionRequest r;
    r.step = step;
    r.subject = std::move(subject);
    r.method = "job.submit";
    r.nonce.fill(nonce_byte);
    r.now = wall_now();
    r.timestamp = r.now.wall;
    return r;
}

protocol::AdmissionVerdict decide(net::Admission& a, const protocol::AdmissionRequest& r) {
    std::promise<protocol::AdmissionVerdict> p;
    a.check(r, [&p](protocol::AdmissionVerdict v) { p.set_value(std::move(v)); });
    auto f = p.get_future();
    EXPECT_EQ(f.wait_for(5s), std::future_status::ready);
    return f.get();
}

TEST(RedisUrl, ParsesTheThreeForms) {
    std::error_code ec;
    auto a = net::parse_redis_url("redis://10.0.0.5:6380/3", ec);
    ASSERT_TRUE(a) << ec.message();
    EXPECT_EQ(a->host, "10.0.0.5");
    EXPECT_EQ(a->port, 6380);
    EXPECT_EQ(a->db, 3U);
    auto b = net::parse_redis_url("redis://cache.internal", ec);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->port, 6379);
    EXPECT_EQ(b->db, 0U);
    auto c = net::parse_redis_url("redis://[::1]:7000/", ec);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->host, "::1");
    EXPECT_EQ(c->port, 7000);
    auto d = net::parse_redis_url("unix:///run/redis/r.sock?db=2", ec);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->path, "/run/redis/r.sock");
    EXPECT_EQ(d->db, 2U);
    EXPECT_EQ(d->describe(), "unix:///run/redis/r.sock?db=2");
}

TEST(RedisUrl, RefusesWhatItCannotHonour) {
    std::error_code ec;
    auto tls =
        net::parse_redis_url("rediss://cache:6380/1", ec);  // TLS: tests/integration/fleet_redis_tls_test
    ASSERT_TRUE(tls) << ec.message();
    EXPECT_TRUE(tls->tls);
    EXPECT_EQ(tls->port, 6380);
    EXPECT_EQ(tls->describe(), "rediss://cache:6380/1");
    for (const char* bad : {"rediss://", "rediss://user:pw@h", "redisss://h"}) {
        EXPECT_FALSE(net::parse_redis_url(bad, ec)) << bad;
        EXPECT_EQ(ec, net::errc::redis_bad_url) << bad;
    }
    for (const char* bad :
         {"http://x", "redis://", "redis://:6379", "redis://h:0", "redis://h:70000", "redis://h/16",
          "redis://h/x", "redis://user:pw@h", "unix://", "unix://rel", "unix:///s?db=99", "redis://[::1"}) {
        EXPECT_FALSE(net::parse_redis_url(bad, ec)) << bad;
        EXPECT_EQ(ec, net::errc::redis_bad_url) << bad;
    }
}

TEST(RedisPassword, FileReadableByOthersIsRefused) {
    cyxp2p::test::TempDir dir;
    const auto f = dir / "pw";
    cyxp2p::test::write_file(f, "s3cret\n");
    std::error_code ec;
    ::chmod(f.c_str(), 0644);
    EXPECT_FALSE(net::read_redis_password(f, ec));
    EXPECT_EQ(ec, net::errc::redis_password_file);
    ::chmod(f.c_str(), 0640);
    EXPECT_FALSE(net::read_redis_password(f, ec));
    ::chmod(f.c_str(), 0600);
    auto pw = net::read_redis_password(f, ec);
    ASSERT_TRUE(pw) << ec.message();
    EXPECT_EQ(*pw, "s3cret");
    cyxp2p::test::write_file(dir / "empty", "");
    ::chmod((dir / "empty").c_str(), 0600);
    EXPECT_FALSE(net::read_redis_password(dir / "empty", ec));
    EXPECT_FALSE(net::read_redis_password(dir / "missing", ec));
}

TEST(RedisClient, PipelinesCallsAndAnswersEachInOrder) {
    RedisServer redis;
    net::RedisLimits limits;
    limits.call_deadline = 5s;  // ordering is the point here, not deadlines on a loaded machine
    net::RedisClient client(endpoint(redis), std::nullopt, limits);
    ASSERT_TRUE(eventually([&] { return client.connected(); }));
    constexpr std::size_t kCalls = 2000;
    std::vector<std::promise<net::RedisReply>> replies(kCalls);
    for (std::size_t i = 0; i < kCalls; ++i) {
        client.call({"INCR", "counter"},
                    [&replies, i](net::RedisReply r) { replies[i].set_value(std::move(r)); });
    }
    for (std::size_t i = 0; i < kCalls; ++i) {
        auto f = replies[i].get_future();
        ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
        auto r = f.get();
        ASSERT_FALSE(r.error) << r.error.message() << " " << r.str;
        EXPECT_EQ(r.integer, static_cast<long long>(i + 1));  // one connection, replies in call order
    }
    EXPECT_EQ(client.stats().errors, 0U);
}

TEST(RedisClient, PasswordIsSentAndAWrongOneNeverConnects) {
    RedisServer redis({"--requirepass", "fleet-secret"});
    net::RedisClient good(endpoint(redis), std::string("fleet-secret"));
    ASSERT_TRUE(eventually([&] { return good.connected(); }));
    net::RedisClient bad(endpoint(redis), std::string("wrong"));
    EXPECT_FALSE(eventually([&] { return bad.connected(); }, 500ms));
    std::promise<net::RedisReply> p;
    bad.call({"PING"}, [&p](net::RedisReply r) { p.set_value(std::move(r)); });
    EXPECT_EQ(p.get_future().get().error, net::errc::redis_unavailable);
}

class FleetScript : public ::testing::Test {
  protected:
    void SetUp() override {
        // Generous, so a loaded CI machine does not turn answers into timeouts; the deadline has its own
        // test below.
        limits_.call_deadline = 2s;
        rate_.requests_per_peer.rate = {10, 1s, 3};  // T = 100 ms, bursts of 3
        rate_.requests_per_method.rate = {1000, 1s, 1000};
        client_ = std::make_shared<net::RedisClient>(endpoint(redis_), std::nullopt, limits_);
        ASSERT_TRUE(eventually([&] { return client_->connected(); }));
    }
    net::RedisAdmission admission(net::RedisUnavailable policy = net::RedisUnavailable::refuse) {
        return net::RedisAdmission(client_, "test:", policy, replay_, rate_, &metrics_);
    }

    RedisServer redis_;
    net::RedisLimits limits_{};
    cyxp2p::replay::Limits replay_{};
    cyxp2p::ratelimit::Limits rate_{};
    net::Metrics metrics_;
    std::shared_ptr<net::RedisClient> client_;
};

TEST_F(FleetScript, NonceIsSetOnceWithATtlOfTheWindow) {
    auto a = admission();
    const auto r = request(protocol::AdmissionRequest::Step::hello, 7);
    EXPECT_TRUE(decide(a, r));
    const auto again = decide(a, r);
    EXPECT_EQ(again.code, errc::replayed);
    EXPECT_EQ(again.detail, "duplicate_nonce");
    // The same nonce under another scope or subject is another key.
    auto reauth = r;
    reauth.step = protocol::AdmissionRequest::Step::reauth;
    EXPECT_TRUE(decide(a, reauth));
    EXPECT_TRUE(decide(a, request(protocol::AdmissionRequest::Step::hello, 7, "user-2")));
    // The key: prefix + digest, never the subject; it expires with the window (2 x skew + one bucket).
    const auto key = a.keys(r).back();
    EXPECT_EQ(key.rfind("test:nonce:", 0), 0U);
    EXPECT_EQ(key.find("user-1"), std::string::npos);
    const long pttl = std::stol(redis_.cli({"PTTL", key}));
    EXPECT_GT(pttl, 60'000 - 5'000);
    EXPECT_LE(pttl, 61'000);
    EXPECT_EQ(metrics_.fleet_checks.load(), 4U);
}

TEST_F(FleetScript, StaleTimestampsAreRefusedWithoutARoundTrip) {
    auto a = admission();
    auto r = request(protocol::AdmissionRequest::Step::hello, 9);
    r.timestamp = r.now.wall - 31s;
    EXPECT_EQ(decide(a, r).detail, "timestamp_too_old");
    r.timestamp = r.now.wall + 31s;
    EXPECT_EQ(decide(a, r).detail, "timestamp_too_new");
    EXPECT_EQ(metrics_.fleet_checks.load(), 0U);
}

TEST_F(FleetScript, GcraAdmitsTheBurstThenRefillsOnTheServersClock) {
    auto a = admission();
    std::uint8_t n = 0;
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(decide(a, request(protocol::AdmissionRequest::Step::open, ++n)));
    const auto refused = decide(a, request(protocol::AdmissionRequest::Step::open, ++n));
    ASSERT_EQ(refused.code, errc::rate_limited);
    EXPECT_GT(refused.retry_after, 0ms);
    EXPECT_LE(refused.retry_after, 100ms);  // one emission interval at most
    // The bucket keys carry a TTL of what is left to refill (at most burst x T = 300 ms).
    const auto bucket = a.keys(request(protocol::AdmissionRequest::Step::open, 0)).front();
    const long pttl = std::stol(redis_.cli({"PTTL", bucket}));
    EXPECT_GE(pttl, -2);  // may already have expired by the time redis-cli runs
    EXPECT_LE(pttl, 300);
    // The script reads TIME, so only the server's clock can refill it: wait out the retry delay.
    std::this_thread::sleep_for(refused.retry_after + 2ms);
    EXPECT_TRUE(decide(a, request(protocol::AdmissionRequest::Step::open, ++n)));
    // A refused OPEN charged nothing and set no nonce: the same nonce is accepted once the bucket refills.
    std::this_thread::sleep_for(110ms);
    EXPECT_TRUE(decide(a, request(protocol::AdmissionRequest::Step::open, 4)));
}

TEST_F(FleetScript, ScriptFlushedFromTheServerIsReloaded) {
    auto a = admission();
    EXPECT_TRUE(decide(a, request(protocol::AdmissionRequest::Step::hello, 1)));
    redis_.cli({"SCRIPT", "FLUSH"});
    EXPECT_TRUE(decide(a, request(protocol::AdmissionRequest::Step::hello, 2)));  // NOSCRIPT, then EVAL
    EXPECT_EQ(redis_.cli({"SCRIPT", "EXISTS", net::RedisAdmission::script_sha1()}), "1\n");
}

TEST_F(FleetScript, KilledRedisFailsClosedAndComesBack) {
    auto a = admission();
    redis_.kill();
    ASSERT_TRUE(eventually([&] { return !client_->connected(); }));
    const auto v = decide(a, request(protocol::AdmissionRequest::Step::hello, 3));
    EXPECT_EQ(v.code, errc::unavailable);
    EXPECT_GT(v.retry_after, 0ms);
    EXPECT_EQ(metrics_.fleet_unavailable.load(), 1U);
    redis_.start();
    ASSERT_TRUE(eventually([&] { return client_->connected(); }, 10s));
    EXPECT_TRUE(decide(a, request(protocol::AdmissionRequest::Step::hello, 3)));
    EXPECT_GE(client_->stats().disconnects, 1U);
}

TEST_F(FleetScript, LocalPolicyFallsBackToTheNodesOwnWindow) {
    auto a = admission(net::RedisUnavailable::local);
    redis_.kill();
    ASSERT_TRUE(eventually([&] { return !client_->connected(); }));
    const auto r = request(protocol::AdmissionRequest::Step::hello, 5);
    EXPECT_TRUE(decide(a, r));
    EXPECT_EQ(decide(a, r).code, errc::replayed);  // the local window still catches a replay to this node
    EXPECT_EQ(metrics_.fleet_fallbacks.load(), 2U);
}

TEST_F(FleetScript, AServerThatStopsAnsweringCostsOneDeadline) {
    limits_ = net::RedisLimits{};  // the default deadline, 50 ms
    client_ = std::make_shared<net::RedisClient>(endpoint(redis_), std::nullopt, limits_);
    ASSERT_TRUE(eventually([&] { return client_->connected(); }));
    auto a = admission();
    EXPECT_TRUE(decide(a, request(protocol::AdmissionRequest::Step::hello, 11)));
    redis_.pause();
    const auto start = std::chrono::steady_clock::now();
    const auto v = decide(a, request(protocol::AdmissionRequest::Step::hello, 12));
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(v.code, errc::unavailable);
    EXPECT_GE(took, limits_.call_deadline - 5ms);
    EXPECT_LT(took, limits_.call_deadline + 150ms);  // the deadline, plus scheduling on a loaded machine
    EXPECT_GE(client_->stats().timeouts, 1U);
    redis_.resume();
    ASSERT_TRUE(eventually([&] { return client_->connected(); }, 10s));
    // Nonce 12 may well be recorded now (the server runs the late command when it wakes): a timed-out
    // check fails closed, and the engine's next HELLO carries a fresh nonce anyway.
    std::uint8_t fresh = 13;
    EXPECT_TRUE(eventually([&] {
        return static_cast<bool>(decide(a, request(protocol::AdmissionRequest::Step::hello, fresh++)));
    }));
}

}  // namespace
