// Deferred admission (fleet mode, docs/fleet.md): the node session parks a HELLO, REAUTH or OPEN until its
// owner brings the replay/rate-limit verdict, reads nothing after it meanwhile, and then goes on in order.
// Sans-IO and deterministic: the verdict is whatever the test hands back.
#include <gtest/gtest.h>

#include <cyxp2p/protocol/engine_session.hpp>
#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/protocol/frame.hpp>
#include <cyxp2p/protocol/node_session.hpp>

#include "session_rig.hpp"

namespace p = cyxp2p::protocol;
using namespace std::chrono_literals;
using Kind = p::Event::Kind;
using cyxp2p::test::kT0;
using p::errc;

namespace {

class Deferred : public ::testing::Test {
  protected:
    Deferred() : rig_(trust_.keys) {
        rig_.services.deferred_admission = true;
        rig_.services.nonces = nullptr;  // the owner decides: the session must not need a window
    }

    std::vector<p::Event> drain(p::NodeSession& n) {
        std::vector<p::Event> out;
        while (auto e = n.poll_event()) out.push_back(std::move(*e));
        return out;
    }
    static std::vector<p::Event> drain(p::EngineSession& e) {
        std::vector<p::Event> out;
        while (auto ev = e.poll_event()) out.push_back(std::move(*ev));
        return out;
    }
    static const p::Event* find(const std::vector<p::Event>& v, Kind k) {
        for (const auto& e : v)
            if (e.kind == k) return &e;
        return nullptr;
    }
    void pump(p::EngineSession& e, p::NodeSession& n) { ASSERT_TRUE(cyxp2p::test::pump(e, n, now_)); }

    // A session past HELLO_ACK (the HELLO admitted).
    std::pair<p::EngineSession, p::NodeSession> connect() {
        p::NodeSession node = rig_.session(now_);
        p::EngineSession engine(cyxp2p::test::engine_config(trust_.mint(cyxp2p::test::p2p_claims())), now_);
        cyxp2p::test::pump(engine, node, now_);
        auto ev = drain(node);
        EXPECT_TRUE(find(ev, Kind::admission));
        node.admit({}, now_);
        cyxp2p::test::pump(engine, node, now_);
        EXPECT_TRUE(engine.ready());
        drain(node);
        drain(engine);
        return {std::move(engine), std::move(node)};
    }

    p::Now now_ = cyxp2p::test::at(kT0 + 10);
    cyxp2p::test::Trust trust_;
    cyxp2p::test::NodeRig rig_;
};

TEST_F(Deferred, HelloWaitsForItsVerdictThenCompletes) {
    p::NodeSession node = rig_.session(now_);
    p::EngineSession engine(cyxp2p::test::engine_config(trust_.mint(cyxp2p::test::p2p_claims())), now_);
    pump(engine, node);
    const auto ev = drain(node);
    const auto* a = find(ev, Kind::admission);
    ASSERT_TRUE(a);
    ASSERT_TRUE(a->admission);
    EXPECT_EQ(a->admission->step, p::AdmissionRequest::Step::hello);
    EXPECT_EQ(a->admission->subject, "user-1");
    EXPECT_STREQ(a->admission->nonce_scope(), "hello:");
    EXPECT_EQ(a->admission->now.wall, now_.wall);
    EXPECT_FALSE(find(ev, Kind::authenticated));
    EXPECT_TRUE(node.awaiting_admission());
    EXPECT_FALSE(engine.ready());  // no HELLO_ACK before the verdict
    EXPECT_TRUE(node.poll_output().empty());

    node.admit({}, now_ + 3ms);
    EXPECT_FALSE(node.awaiting_admission());
    pump(engine, node);
    EXPECT_TRUE(engine.ready());
    EXPECT_TRUE(node.authenticated());
    EXPECT_TRUE(find(drain(node), Kind::authenticated));
}

TEST_F(Deferred, RefusedHelloClosesWithTheVerdictsCodeAndRetryDelay) {
    p::NodeSession node = rig_.session(now_);
    p::EngineSession engine(cyxp2p::test::engine_config(trust_.mint(cyxp2p::test::p2p_claims())), now_);
    pump(engine, node);
    ASSERT_TRUE(find(drain(node), Kind::admission));
    node.admit({.code = make_error_code(errc::unavailable),
                .message = "replay store unreachable",
                .detail = "redis_timeout",
                .retry_after = 250ms},
               now_);
    pump(engine, node);
    const auto ev = drain(engine);
    const auto* r = find(ev, Kind::rejected);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->error, errc::unavailable);
    EXPECT_EQ(r->detail, "redis_timeout");
    EXPECT_EQ(r->retry_after, 250ms);
    EXPECT_TRUE(node.closed());
    EXPECT_FALSE(node.authenticated());
    node.admit({}, now_);  // late verdicts are ignored
    EXPECT_FALSE(node.authenticated());
}

TEST_F(Deferred, ForeignErrorCodesFailClosedAsUnavailable) {
    p::NodeSession node = rig_.session(now_);
    p::EngineSession engine(cyxp2p::test::engine_config(trust_.mint(cyxp2p::test::p2p_claims())), now_);
    pump(engine, node);
    ASSERT_TRUE(find(drain(node), Kind::admission));
    node.admit({.code = std::make_error_code(std::errc::timed_out)}, now_);
    pump(engine, node);
    const auto ev = drain(engine);
    const auto* r = find(ev, Kind::rejected);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->error, errc::unavailable);
}

TEST_F(Deferred, OpensCompleteOneAtATimeInArrivalOrder) {
    auto [engine, node] = connect();
    std::error_code ec;
    const auto a = engine.open_stream("job.submit", now_, ec);
    ASSERT_TRUE(a) << ec.message();
    const std::vector<std::uint8_t> body{0x91, 0x01};
    ASSERT_FALSE(engine.send_message(*a, body));
    const auto b = engine.open_stream("metrics.subscribe", now_, ec);
    ASSERT_TRUE(b) << ec.message();
    pump(engine, node);

    // Only the first OPEN is asked about; the second OPEN and the message (DATA, which the engine sends after
    // its control frames) wait behind it.
    auto ev = drain(node);
    ASSERT_EQ(ev.size(), 1U);
    ASSERT_EQ(ev[0].kind, Kind::admission);
    EXPECT_EQ(ev[0].stream_id, *a);
    EXPECT_EQ(ev[0].admission->step, p::AdmissionRequest::Step::open);
    EXPECT_EQ(ev[0].admission->method, "job.submit");
    EXPECT_STREQ(ev[0].admission->nonce_scope(), "open:");

    node.admit({}, now_);
    ev = drain(node);
    ASSERT_EQ(ev.size(), 2U);
    EXPECT_EQ(ev[0].kind, Kind::stream_opened);
    EXPECT_EQ(ev[0].stream_id, *a);
    EXPECT_EQ(ev[1].kind, Kind::admission);
    EXPECT_EQ(ev[1].stream_id, *b);
    EXPECT_EQ(ev[1].admission->method, "metrics.subscribe");

    node.admit(
        {.code = make_error_code(errc::rate_limited), .message = "per-peer limit", .retry_after = 40ms},
        now_);
    ev = drain(node);
    ASSERT_EQ(ev.size(), 2U);
    EXPECT_EQ(ev[0].kind, Kind::stream_refused);
    EXPECT_EQ(ev[0].stream_id, *b);
    EXPECT_EQ(ev[0].error, errc::rate_limited);
    EXPECT_EQ(ev[0].retry_after, 40ms);
    EXPECT_EQ(ev[1].kind, Kind::message);  // only now: it arrived after the second OPEN
    EXPECT_EQ(ev[1].stream_id, *a);
    EXPECT_EQ(ev[1].body, body);
    pump(engine, node);
    bool reset_seen = false;
    for (const auto& e : drain(engine)) {
        if (e.kind == Kind::stream_reset && e.stream_id == *b) {
            reset_seen = true;
            EXPECT_EQ(e.error, errc::rate_limited);
        }
    }
    EXPECT_TRUE(reset_seen);
    EXPECT_FALSE(node.closed());  // a refused OPEN is a stream error only
}

TEST_F(Deferred, AnOpenParkedAcrossGoawayIsRefusedAsDraining) {
    auto [engine, node] = connect();
    std::error_code ec;
    // One stream open, so the session drains instead of closing at once when GOAWAY goes out.
    ASSERT_TRUE(engine.open_stream("metrics.subscribe", now_, ec));
    pump(engine, node);
    ASSERT_TRUE(find(drain(node), Kind::admission));
    node.admit({}, now_);
    ASSERT_TRUE(find(drain(node), Kind::stream_opened));
    const auto a = engine.open_stream("job.submit", now_, ec);
    ASSERT_TRUE(a);
    pump(engine, node);
    ASSERT_TRUE(find(drain(node), Kind::admission));
    node.go_away(now_);
    node.admit({}, now_);
    const auto ev = drain(node);
    const auto* r = find(ev, Kind::stream_refused);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->error, errc::going_away);
    EXPECT_FALSE(find(ev, Kind::stream_opened));
}

TEST_F(Deferred, BytesBeyondOneWindowWhileParkedCloseTheSession) {
    p::NodeSession node = rig_.session(now_);
    p::EngineSession engine(cyxp2p::test::engine_config(trust_.mint(cyxp2p::test::p2p_claims())), now_);
    node.receive(engine.poll_output(), now_);  // the HELLO: parked
    ASSERT_TRUE(node.awaiting_admission());
    // PINGs need no credit, so a peer that keeps sending while its HELLO is checked is only bounded by this.
    std::vector<std::uint8_t> pings;
    const std::size_t limit = p::SessionLimits{}.initial_session_window + p::SessionLimits{}.max_frame_size;
    while (pings.size() <= limit + p::frame_header_size + 8) {
        const auto h = p::encode_header({p::wire_version, p::FrameType::ping, 0, 0, 8});
        pings.insert(pings.end(), h.begin(), h.end());
        pings.insert(pings.end(), 8, 0);
    }
    node.receive({pings.data(), limit / 2}, now_);
    EXPECT_FALSE(node.closed());
    node.receive({pings.data() + limit / 2, pings.size() - limit / 2}, now_);
    EXPECT_TRUE(node.closed());
    const auto ev = drain(node);
    const auto* c = find(ev, Kind::closed);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->error, errc::flow_control);
}

TEST_F(Deferred, NonDeferredSessionsStillNeedAWindow) {
    rig_.services.deferred_admission = false;
    EXPECT_THROW(rig_.session(now_), std::invalid_argument);
}

}  // namespace
