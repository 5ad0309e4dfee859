// Fleet mode end to end: two net::Node instances with one identity and one node id, sharing one real
// redis-server (tests/support/redis_server.hpp), against raw engines. A HELLO or OPEN captured on one node
// and replayed to the other is refused; a per-subject limit holds across both; Redis killed: new
// handshakes and opens fail closed while an open stream keeps streaming; Redis back: accepted again; and
// the `local` policy falls back to each node's own windows.
#include <redis_server.hpp>

#include "hostile_engine.hpp"

namespace {

using namespace hostile;
using cyxp2p::test::RedisServer;

class Fleet : public HostileEngine {
  protected:
    void TearDown() override {
        for (auto* n : {&node_a_, &node_b_})
            if (*n) (*n)->stop();
        HostileEngine::TearDown();
    }

    // Both nodes, with `tweak` applied to each.
    void start_fleet(net::RedisUnavailable policy = net::RedisUnavailable::refuse,
                     std::function<void(net::NodeOptions&)> tweak = {}) {
        std::error_code ec;
        auto ep = net::parse_redis_url(redis_.url(), ec);
        ASSERT_TRUE(ep) << ec.message();
        auto fleet = [&](net::NodeOptions& o) {
            o.fleet = net::FleetOptions{.redis = *ep, .when_unavailable = policy};
            o.fleet->limits.reconnect_max = 200ms;  // so "Redis back" is noticed quickly
            o.fleet->limits.call_deadline = 2s;     // answers, not timeouts, on a loaded CI machine
            if (tweak) tweak(o);
        };
        for (auto* n : {&node_a_, &node_b_}) {
            start_node(fleet);
            *n = std::move(node_);
        }
        for (auto* n : {&node_a_, &node_b_}) {
            eventually([&] { return (*n)->metrics().fleet_redis_up.load() == 1; }, "connected to redis");
        }
    }

    std::unique_ptr<raw::Tls> dial_to(net::Node& n) {
        const int fd = raw::tcp_connect(n.local_port());
        if (fd < 0) return nullptr;
        auto t = std::make_unique<raw::Tls>(ctx_.get(), fd, false);
        pinning::expect_pins(t->ssl(), pinning::PinSet(identity_->pin()));
        if (!t->handshake(raw::in(5s))) return nullptr;
        return t;
    }
    std::unique_ptr<raw::Tls> session_on(net::Node& n) {
        auto t = dial_to(n);
        if (!t) return nullptr;
        auto ack = handshake(*t, hello(token(), nonce(), now_ms()));
        if (!ack || ack->header.type != FrameType::hello_ack) return nullptr;
        return t;
    }
    // An OPEN the node accepted: metrics.subscribe stays open, so no ERROR comes before the PONG.
    static void expect_opened(raw::Tls& t) {
        const std::array<std::uint8_t, 8> opaque{9, 9, 9, 9, 9, 9, 9, 9};
        t.frame(FrameType::ping, 0, 0, opaque);
        for (auto deadline = raw::in(5s);;) {
            auto f = t.next(deadline);
            ASSERT_TRUE(f) << "no PONG";
            ASSERT_NE(f->header.type, FrameType::error) << raw::parse_error(*f).message();
            if (f->header.type == FrameType::ping && (f->header.flags & protocol::flags::ack) &&
                f->payload == raw::Bytes(opaque.begin(), opaque.end()))
                return;
        }
    }

    RedisServer redis_;
    std::unique_ptr<net::Node> node_a_;
    std::unique_ptr<net::Node> node_b_;
};

TEST_F(Fleet, HelloReplayedToTheOtherNodeIsRefused) {
    start_fleet();
    const auto h = hello(token(), nonce(), now_ms());
    auto a = dial_to(*node_a_);
    ASSERT_TRUE(a);
    auto ack = handshake(*a, h);
    ASSERT_TRUE(ack);
    ASSERT_EQ(ack->header.type, FrameType::hello_ack);
    // The same bytes to the other process of the fleet: its own window never saw them, Redis did.
    auto b = dial_to(*node_b_);
    ASSERT_TRUE(b);
    b->control(FrameType::hello, 0, h);
    expect_connection_error(*b, errc::replayed, "duplicate_nonce");
    eventually([&] { return node_b_->metrics().replays_rejected.load() == 1; }, "replays_rejected on B");
    EXPECT_GE(node_b_->metrics().fleet_checks.load(), 1U);
    expect_alive(*a);
}

TEST_F(Fleet, OpenReplayedToTheOtherNodeIsRefused) {
    start_fleet();
    auto a = session_on(*node_a_);
    auto b = session_on(*node_b_);
    ASSERT_TRUE(a && b);
    const std::string n = nonce();
    const auto ts = now_ms();
    open(*a, 1, "metrics.subscribe", n, ts);
    expect_opened(*a);
    open(*b, 1, "metrics.subscribe", n, ts);
    expect_stream_error(*b, 1, errc::replayed);
    open(*b, 3, "metrics.subscribe", nonce(), now_ms());  // a fresh nonce on B is fine
    expect_opened(*b);
}

TEST_F(Fleet, PerSubjectLimitHoldsAcrossBothNodes) {
    // Four opens per subject, refilling one an hour: the fifth is refused wherever it lands.
    start_fleet(net::RedisUnavailable::refuse, [](net::NodeOptions& o) {
        o.rate.requests_per_peer.rate = {1, std::chrono::hours(1), 4};
    });
    auto a = session_on(*node_a_);
    auto b = session_on(*node_b_);
    ASSERT_TRUE(a && b);
    for (std::uint32_t id : {1U, 3U}) {
        open(*a, id, "metrics.subscribe", nonce(), now_ms());
        expect_opened(*a);
        open(*b, id, "metrics.subscribe", nonce(), now_ms());
        expect_opened(*b);
    }
    open(*a, 5, "metrics.subscribe", nonce(), now_ms());
    expect_stream_error(*a, 5, errc::rate_limited);
    open(*b, 5, "metrics.subscribe", nonce(), now_ms());
    expect_stream_error(*b, 5, errc::rate_limited);
    // Each node alone would have allowed 4; together they allowed 4.
    eventually(
        [&] { return node_a_->metrics().rate_limited.load() + node_b_->metrics().rate_limited.load() == 2; },
        "rate_limited");
}

TEST_F(Fleet, RedisDownFailsClosedWhileOpenStreamsGoOnAndBackIsAcceptedAgain) {
    start_fleet();
    auto a = session_on(*node_a_);
    ASSERT_TRUE(a);
    open(*a, 1, "metrics.subscribe", nonce(), now_ms());
    expect_opened(*a);
    ASSERT_EQ(held_.size(), 1U);

    // TLS before the outage, HELLO during it: new connections are refused before TLS while Redis is down
    // (the fleet's per-address connection limits, fleet_lease_test.cpp), so a HELLO can only meet the outage
    // on a connection accepted before it.
    auto pre = dial_to(*node_a_);
    ASSERT_TRUE(pre);
    redis_.kill();
    eventually([&] { return node_a_->metrics().fleet_redis_up.load() == 0; }, "redis down noticed");
    EXPECT_FALSE(dial_to(*node_a_)) << "a new connection passed TLS while Redis was down";
    // New handshakes and opens: refused, with a retry delay.
    {
        auto t = std::move(pre);
        t->control(FrameType::hello, 0, hello(token(), nonce(), now_ms()));
        auto f = t->next_of(FrameType::error, raw::in(5s));
        ASSERT_TRUE(f);
        const auto e = raw::parse_error(*f);
        EXPECT_EQ(e.code(), static_cast<std::uint32_t>(errc::unavailable)) << e.message();
        EXPECT_GT(e.retry_after_ms(), 0U);
        EXPECT_TRUE(t->wait_closed(raw::in(5s)));
    }
    open(*a, 3, "metrics.subscribe", nonce(), now_ms());
    expect_stream_error(*a, 3, errc::unavailable);
    // The stream opened before keeps streaming.
    const raw::Bytes message = raw::message(protocol::encode(protocol::Outcome{false, "tick", "1"}));
    auto stream = held_[0];
    stream->post([stream] { (void)stream->send(protocol::encode(protocol::Outcome{false, "tick", "1"})); });
    auto data = a->next_of(FrameType::data, raw::in(5s));
    ASSERT_TRUE(data);
    EXPECT_EQ(data->header.stream_id, 1U);
    EXPECT_EQ(data->payload, message);
    expect_alive(*a);
    eventually([&] { return audit_->count(Kind::fleet_store, "down") >= 1; }, "audit fleet_store down");
    EXPECT_GE(node_a_->metrics().fleet_unavailable.load(), 2U);

    redis_.start();
    eventually([&] { return node_a_->metrics().fleet_redis_up.load() == 1; }, "redis back noticed");
    auto again = session_on(*node_a_);
    EXPECT_TRUE(again);
    open(*a, 5, "metrics.subscribe", nonce(), now_ms());
    expect_opened(*a);
    EXPECT_GE(audit_->count(Kind::fleet_store, "up"), 3U);  // both nodes at start, A again
}

TEST_F(Fleet, LocalPolicyFallsBackToEachNodesOwnWindow) {
    start_fleet(net::RedisUnavailable::local);
    redis_.kill();
    eventually([&] { return node_a_->metrics().fleet_redis_up.load() == 0; }, "redis down noticed");
    const auto h = hello(token(), nonce(), now_ms());
    auto a = dial_to(*node_a_);
    ASSERT_TRUE(a);
    auto ack = handshake(*a, h);
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->header.type, FrameType::hello_ack);
    // The trade-off: the same node still refuses the replay, the other one (its own window) would not.
    auto again = dial_to(*node_a_);
    ASSERT_TRUE(again);
    again->control(FrameType::hello, 0, h);
    expect_connection_error(*again, errc::replayed, "duplicate_nonce");
    auto other = dial_to(*node_b_);
    ASSERT_TRUE(other);
    auto other_ack = handshake(*other, h);
    ASSERT_TRUE(other_ack);
    EXPECT_EQ(other_ack->header.type, FrameType::hello_ack);
    EXPECT_GE(node_a_->metrics().fleet_fallbacks.load(), 2U);
}

}  // namespace
