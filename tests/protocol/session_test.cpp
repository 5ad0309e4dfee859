// NodeSession and EngineSession driven against each other in memory, with an injected clock: every
// handshake, stream, flow-control and deadline rule, deterministic and without sockets or sleeping.
#include <gtest/gtest.h>

#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/auth/keyring.hpp>
#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/engine_session.hpp>
#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/protocol/frame.hpp>
#include <cyxp2p/protocol/node_session.hpp>
#include <cyxp2p/ratelimit/keyed_limiter.hpp>
#include <cyxp2p/replay/nonce_window.hpp>

#include "session_rig.hpp"
#include "wire.pb.h"

namespace p = cyxp2p::protocol;
namespace auth = cyxp2p::auth;
using namespace std::chrono_literals;
using Kind = p::Event::Kind;
using p::errc;

namespace {

using cyxp2p::test::kT0;

class Sessions : public ::testing::Test {
  protected:
    Sessions() : rig_(trust_.keys), config_(rig_.config), services_(rig_.services) {}

    auth::Claims claims(std::vector<std::string> scope = {"job:execute", "metrics:read", "content:read"}) {
        auto c = cyxp2p::test::p2p_claims();
        c.scope = std::move(scope);
        return c;
    }
    std::string token(const auth::Claims& c) { return trust_.mint(c); }
    std::string token() { return token(claims()); }

    // One nonce counter for every engine of a test, so two engines never send the same nonce unless a test
    // resets counter_ to replay one on purpose.
    p::EngineConfig engine_config(std::string tok) {
        return cyxp2p::test::engine_config(std::move(tok), [this](std::span<std::uint8_t> out) {
            for (auto& b : out) b = static_cast<std::uint8_t>(++counter_ * 31 + nonce_salt_);
        });
    }

    // Moves bytes both ways until neither side has anything to send, taking events as an application
    // would (taking them is what returns flow-control credit); events(s) hands them to the test.
    void pump(p::EngineSession& e, p::NodeSession& n) {
        if (!cyxp2p::test::pump(
                e, n, now_, [&] { take(e); }, [&] { take(n); }))
            FAIL() << "pump did not settle";
    }

    template <class S>
    void take(S& s) {
        auto& log = log_[&s];
        while (auto ev = s.poll_event()) log.push_back(std::move(*ev));
    }

    template <class S>
    std::vector<p::Event> events(S& s) {
        take(s);
        std::vector<p::Event> out;
        out.swap(log_[&s]);
        return out;
    }
    template <class S>
    std::optional<p::Event> find(S& s, Kind k) {
        for (auto& ev : events(s)) {
            if (ev.kind == k) return ev;
        }
        return std::nullopt;
    }

    // A connected pair past the handshake.
    std::pair<p::EngineSession, p::NodeSession> connect() {
        p::NodeSession node(config_, services_, now_);
        p::EngineSession engine(engine_config(token()), now_);
        pump(engine, node);
        EXPECT_TRUE(engine.ready());
        EXPECT_TRUE(node.authenticated());
        events(engine);
        events(node);
        return {std::move(engine), std::move(node)};
    }

    p::Now now_ = cyxp2p::test::at(kT0 + 10);
    cyxp2p::test::Trust trust_;
    cyxp2p::test::NodeRig rig_;
    p::NodeConfig& config_;
    p::NodeServices& services_;
    int counter_ = 0;
    int nonce_salt_ = 0;
    std::map<const void*, std::vector<p::Event>> log_;
};

TEST_F(Sessions, HandshakeReportsBothSides) {
    p::NodeSession node(config_, services_, now_);
    p::EngineSession engine(engine_config(token()), now_);
    EXPECT_FALSE(engine.ready());
    pump(engine, node);
    auto ready = find(engine, Kind::ready);
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->handshake.node_id, "node-1");
    EXPECT_EQ(ready->handshake.session_id, "sess-1");
    EXPECT_EQ(ready->handshake.token_expiry, kT0 + 3600);
    EXPECT_EQ(ready->handshake.peer_limits.max_concurrent_streams, p::SessionLimits{}.max_concurrent_streams);
    auto auth_ev = find(node, Kind::authenticated);
    ASSERT_TRUE(auth_ev);
    ASSERT_TRUE(auth_ev->claims);
    EXPECT_EQ(auth_ev->claims->subject, "user-1");
}

TEST_F(Sessions, BadTokenIsRejectedWithTheAuthReason) {
    p::NodeSession node(config_, services_, now_);
    auto c = claims();
    c.expires_at = kT0 + 5;  // expired 5 s before now, beyond leeway? leeway 30 s: make it older
    c.issued_at = kT0 - 100;
    c.expires_at = kT0 - 60;
    p::EngineSession engine(engine_config(token(c)), now_);
    pump(engine, node);
    auto rej = find(engine, Kind::rejected);
    ASSERT_TRUE(rej);
    EXPECT_EQ(rej->error, errc::token_rejected);
    EXPECT_EQ(rej->detail, "expired");
    EXPECT_TRUE(engine.closed());
    EXPECT_TRUE(node.closed());
    EXPECT_FALSE(node.authenticated());
}

TEST_F(Sessions, ForgedSignatureIsRejected) {
    p::NodeSession node(config_, services_, now_);
    auto t = token();
    t[t.size() - 5] = t[t.size() - 5] == 'A' ? 'B' : 'A';
    p::EngineSession engine(engine_config(t), now_);
    pump(engine, node);
    auto rej = find(engine, Kind::rejected);
    ASSERT_TRUE(rej);
    EXPECT_EQ(rej->error, errc::token_rejected);
    EXPECT_EQ(rej->detail, "bad_signature");
}

TEST_F(Sessions, TokenForAnotherNodeIsWrongNode) {
    p::NodeSession node(config_, services_, now_);
    auto c = claims();
    c.node_id = "node-2";
    p::EngineSession engine(engine_config(token(c)), now_);
    pump(engine, node);
    auto rej = find(engine, Kind::rejected);
    ASSERT_TRUE(rej);
    EXPECT_EQ(rej->error, errc::wrong_node);
}

TEST_F(Sessions, ReplayedHelloIsRefused) {
    const auto t = token();
    {
        p::NodeSession node(config_, services_, now_);
        p::EngineSession engine(engine_config(t), now_);
        pump(engine, node);
        ASSERT_TRUE(engine.ready());
    }
    // Same token and same nonce (the deterministic generator restarts): a captured HELLO replayed.
    counter_ = 0;
    p::NodeSession node(config_, services_, now_);
    p::EngineSession engine(engine_config(t), now_);
    pump(engine, node);
    auto rej = find(engine, Kind::rejected);
    ASSERT_TRUE(rej);
    EXPECT_EQ(rej->error, errc::replayed);
    EXPECT_EQ(rej->detail, "duplicate_nonce");
}

TEST_F(Sessions, StaleHelloTimestampIsRefused) {
    p::NodeSession node(config_, services_, now_);
    p::EngineSession engine(engine_config(token()), now_ - 120s);  // engine clock 2 minutes behind
    pump(engine, node);
    auto rej = find(engine, Kind::rejected);
    ASSERT_TRUE(rej);
    EXPECT_EQ(rej->error, errc::replayed);
    EXPECT_EQ(rej->detail, "timestamp_too_old");
}

TEST_F(Sessions, ExtremeHelloTimestampsAreRefusedWithoutOverflow) {
    for (std::int64_t ts : {INT64_MAX, INT64_MIN, std::int64_t{7205759403791050752}}) {
        p::NodeSession node(config_, services_, now_);
        p::wire::Hello h;
        h.set_token(token());
        h.set_nonce(std::string(16, static_cast<char>(ts & 0x7F)));
        h.set_timestamp_ms(ts);
        h.set_protocol_version(1);
        const std::string payload = h.SerializeAsString();
        p::FrameEncoder enc;
        enc.append(p::FrameType::hello, 0, 0,
                   {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()});
        node.receive(enc.take(), now_);
        auto closed = find(node, Kind::closed);
        ASSERT_TRUE(closed) << ts;
        EXPECT_EQ(closed->error, errc::replayed);
        EXPECT_EQ(closed->detail, ts > 0 ? "timestamp_too_new" : "timestamp_too_old");
    }
}

TEST_F(Sessions, NoHelloBeforeDeadlineCloses) {
    p::NodeSession node(config_, services_, now_);
    ASSERT_TRUE(node.next_timeout());
    EXPECT_EQ(*node.next_timeout(), (now_ + 10s).mono);
    node.on_timeout(now_ + 9s);
    EXPECT_FALSE(node.closed());
    node.on_timeout(now_ + 10s);
    EXPECT_TRUE(node.closed());
    auto closed = find(node, Kind::closed);
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->error, errc::hello_timeout);
    EXPECT_FALSE(node.poll_output().empty());  // the ERROR frame telling the engine why
}

TEST_F(Sessions, NothingButHelloBeforeAck) {
    p::NodeSession node(config_, services_, now_);
    p::FrameEncoder enc;
    enc.append(p::FrameType::data, 0, 1, std::vector<std::uint8_t>{1, 2, 3});
    node.receive(enc.take(), now_);
    EXPECT_TRUE(node.closed());
    EXPECT_EQ(find(node, Kind::closed)->error, errc::protocol_violation);
}

TEST_F(Sessions, RequestResponseOnAStream) {
    auto [engine, node] = connect();
    std::error_code ec;
    auto id = engine.open_stream("job.submit", now_, ec);
    ASSERT_TRUE(id) << ec.message();
    const auto body = p::encode(p::JobSubmit{"job-1", {}});
    ASSERT_FALSE(engine.send_message(*id, body));
    ASSERT_FALSE(engine.finish(*id));
    pump(engine, node);
    auto ev = events(node);
    ASSERT_GE(ev.size(), 3U);
    EXPECT_EQ(ev[0].kind, Kind::stream_opened);
    EXPECT_EQ(ev[0].method, "job.submit");
    EXPECT_EQ(ev[1].kind, Kind::message);
    EXPECT_EQ(ev[1].body, body);
    EXPECT_EQ(ev[2].kind, Kind::stream_end);
    ASSERT_FALSE(node.send_message(*id, p::encode(p::Outcome{})));
    ASSERT_FALSE(node.finish(*id));
    pump(engine, node);
    auto back = events(engine);
    ASSERT_EQ(back.size(), 4U);
    EXPECT_EQ(back[0].kind, Kind::stream_accepted);  // OPEN_ACK, before the node's first message
    EXPECT_EQ(back[1].kind, Kind::message);
    std::error_code dec;
    EXPECT_TRUE(p::decode_outcome(back[1].body, dec)->ok);
    EXPECT_EQ(back[2].kind, Kind::stream_end);
    EXPECT_EQ(back[3].kind, Kind::stream_closed);
    EXPECT_TRUE(find(node, Kind::stream_closed));
}

TEST_F(Sessions, MethodChecksResetTheStreamNotTheSession) {
    auto [engine, node] = connect();
    std::error_code ec;
    auto unknown = engine.open_stream("no.such.method", now_, ec);
    auto forbidden = engine.open_stream("job.pause", now_, ec);  // needs job:control, token lacks it
    pump(engine, node);
    std::map<std::uint32_t, std::error_code> resets;
    for (auto& e : events(engine)) {
        if (e.kind == Kind::stream_reset) resets[e.stream_id] = e.error;
    }
    EXPECT_EQ(resets[*unknown], errc::unknown_method);
    EXPECT_EQ(resets[*forbidden], errc::forbidden);
    EXPECT_FALSE(engine.closed());
    auto ok = engine.open_stream("metrics.subscribe", now_, ec);
    pump(engine, node);
    EXPECT_EQ(find(node, Kind::stream_opened)->stream_id, *ok);
}

TEST_F(Sessions, AcceptedOpenIsAcknowledgedBeforeAnyMessage) {
    auto [engine, node] = connect();
    ASSERT_TRUE(engine.handshake()->open_ack);  // announced in HELLO_ACK
    std::error_code ec;
    auto id = engine.open_stream("metrics.subscribe", now_, ec);
    ASSERT_TRUE(id) << ec.message();
    EXPECT_FALSE(find(engine, Kind::stream_accepted));  // not before the node said so
    pump(engine, node);
    ASSERT_TRUE(find(node, Kind::stream_opened));
    auto accepted = find(engine, Kind::stream_accepted);
    ASSERT_TRUE(accepted);
    EXPECT_EQ(accepted->stream_id, *id);
}

TEST_F(Sessions, RefusedOpenGetsTheErrorAndNoAck) {
    auto [engine, node] = connect();
    std::error_code ec;
    auto forbidden = engine.open_stream("job.pause", now_, ec);  // needs job:control, token lacks it
    ASSERT_TRUE(forbidden);
    pump(engine, node);
    auto ev = events(engine);
    ASSERT_FALSE(ev.empty());
    EXPECT_EQ(ev[0].kind, Kind::stream_reset);
    EXPECT_EQ(ev[0].stream_id, *forbidden);
    EXPECT_EQ(ev[0].error, errc::forbidden);
    // The person-readable reason names the missing scope; it is in `message`, not mixed into `detail`.
    EXPECT_NE(ev[0].message.find("job:control"), std::string::npos) << ev[0].message;
    for (const auto& e : ev) EXPECT_NE(e.kind, Kind::stream_accepted);
    EXPECT_FALSE(engine.closed());
}

// An older cyx-p2p/1 node: HELLO_ACK without open_ack, and no OPEN_ACK frames. The engine reports each OPEN
// accepted as soon as it is sent, as before OPEN_ACK existed.
TEST_F(Sessions, NodeWithoutOpenAckCountsAnOpenAsAccepted) {
    p::NodeSession node(config_, services_, now_);
    p::EngineSession engine(engine_config(token()), now_);
    int dropped_acks = 0;
    auto as_old_node = [&](std::vector<std::uint8_t> bytes) {
        p::FrameDecoder dec(1 << 24);
        p::FrameEncoder out;
        dec.feed(bytes);
        std::error_code ec;
        while (auto f = dec.next(ec)) {
            if (f->header.type == p::FrameType::open_ack) {
                ++dropped_acks;
                continue;
            }
            if (f->header.type == p::FrameType::hello_ack) {
                cyxp2p::protocol::wire::HelloAck a;
                EXPECT_TRUE(a.ParseFromArray(f->payload.data(), static_cast<int>(f->payload.size())));
                EXPECT_TRUE(a.open_ack());
                a.clear_open_ack();
                const std::string b = a.SerializeAsString();
                out.append(f->header.type, f->header.flags, 0,
                           {reinterpret_cast<const std::uint8_t*>(b.data()), b.size()});
                continue;
            }
            out.append(f->header.type, f->header.flags, f->header.stream_id, f->payload);
        }
        EXPECT_FALSE(ec) << ec.message();
        return out.take();
    };
    auto exchange = [&] {
        for (int i = 0; i < 20; ++i) {
            auto to_node = engine.poll_output();
            auto to_engine = as_old_node(node.poll_output());
            if (to_node.empty() && to_engine.empty()) return;
            if (!to_node.empty()) node.receive(to_node, now_);
            if (!to_engine.empty()) engine.receive(to_engine, now_);
            take(node);
        }
    };
    exchange();
    ASSERT_TRUE(engine.ready());
    EXPECT_FALSE(engine.handshake()->open_ack);
    events(engine);
    std::error_code ec;
    auto id = engine.open_stream("metrics.subscribe", now_, ec);
    ASSERT_TRUE(id);
    auto accepted = find(engine, Kind::stream_accepted);  // at once, before any byte reached the node
    ASSERT_TRUE(accepted);
    EXPECT_EQ(accepted->stream_id, *id);
    exchange();
    EXPECT_EQ(dropped_acks, 1);
    ASSERT_FALSE(node.send_message(*id, p::encode(p::Outcome{})));
    exchange();
    auto msg = find(engine, Kind::message);
    ASSERT_TRUE(msg);
    EXPECT_EQ(msg->stream_id, *id);
    EXPECT_FALSE(engine.closed());
}

TEST_F(Sessions, OpenAckForAStreamNeverOpenedIsAProtocolViolation) {
    auto [engine, node] = connect();
    p::FrameEncoder enc;
    enc.append(p::FrameType::open_ack, 0, 7, {});
    engine.receive(enc.take(), now_);
    auto closed = find(engine, Kind::closed);
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->error, errc::protocol_violation);
}

TEST_F(Sessions, ReplayedOpenIsRefused) {
    auto [engine, node] = connect();
    // Capture a real OPEN frame and send it again under a new stream id.
    std::error_code ec;
    engine.open_stream("job.submit", now_, ec);
    auto wire_bytes = engine.poll_output();
    node.receive(wire_bytes, now_);
    ASSERT_EQ(find(node, Kind::stream_opened)->stream_id, 1U);
    wire_bytes[7] = 2;  // stream id 1 -> 2 (big-endian low byte)
    node.receive(wire_bytes, now_);
    p::FrameDecoder dec(1 << 20);
    dec.feed(node.poll_output());
    auto f = dec.next(ec);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.type, p::FrameType::open_ack);  // stream 1 was accepted
    EXPECT_EQ(f->header.stream_id, 1U);
    f = dec.next(ec);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.type, p::FrameType::error);
    EXPECT_EQ(f->header.stream_id, 2U);
    cyxp2p::protocol::wire::Error err;
    ASSERT_TRUE(err.ParseFromArray(f->payload.data(), static_cast<int>(f->payload.size())));
    EXPECT_EQ(err.code(), static_cast<std::uint32_t>(errc::replayed));
    EXPECT_FALSE(node.closed());
}

TEST_F(Sessions, RateLimitCarriesRetryAfter) {
    cyxp2p::ratelimit::KeyedLimits lim;
    lim.rate = {1, std::chrono::seconds(1), 2};
    cyxp2p::ratelimit::KeyedLimiter per_peer(lim);
    services_.requests_per_peer = &per_peer;
    auto [engine, node] = connect();
    std::error_code ec;
    for (int i = 0; i < 3; ++i) engine.open_stream("metrics.subscribe", now_, ec);
    pump(engine, node);
    int opened = 0;
    for (auto& e : events(node)) opened += e.kind == Kind::stream_opened;
    EXPECT_EQ(opened, 2);
    auto reset = find(engine, Kind::stream_reset);
    ASSERT_TRUE(reset);
    EXPECT_EQ(reset->stream_id, 3U);
    EXPECT_EQ(reset->error, errc::rate_limited);
    EXPECT_EQ(reset->retry_after, 1000ms);
}

TEST_F(Sessions, LargeTransferRespectsFlowControl) {
    auto [engine, node] = connect();
    std::error_code ec;
    auto id = engine.open_stream("content.fetch", now_, ec);
    pump(engine, node);
    events(node);
    // 40 messages of 256 KiB = 10 MiB, far beyond the 256 KiB stream and 1 MiB session windows.
    std::vector<std::uint8_t> chunk(256 << 10);
    for (int i = 0; i < 40; ++i) {
        chunk[0] = static_cast<std::uint8_t>(i);
        ASSERT_FALSE(node.send_message(*id, chunk));
    }
    ASSERT_FALSE(node.finish(*id));
    // Without the engine reading, the node may not put more than one stream window on the wire.
    const auto first = node.poll_output();
    EXPECT_LE(first.size(), (256U << 10) + 20 * p::frame_header_size);
    EXPECT_GT(node.pending_bytes(*id), 9U << 20);
    engine.receive(first, now_);
    pump(engine, node);
    int messages = 0;
    bool ended = false;
    for (auto& e : events(engine)) {
        if (e.kind == Kind::message) {
            EXPECT_EQ(e.body.size(), 256U << 10);
            EXPECT_EQ(e.body[0], static_cast<std::uint8_t>(messages));
            ++messages;
        }
        ended |= e.kind == Kind::stream_end;
    }
    EXPECT_EQ(messages, 40);
    EXPECT_TRUE(ended);
    EXPECT_EQ(node.pending_bytes(*id), 0U);
}

TEST_F(Sessions, SmallStreamIsNotStarvedByABulkOne) {
    auto [engine, node] = connect();
    std::error_code ec;
    auto bulk = engine.open_stream("content.fetch", now_, ec);
    auto small = engine.open_stream("metrics.subscribe", now_, ec);
    pump(engine, node);
    events(node);
    for (int i = 0; i < 8; ++i) ASSERT_FALSE(node.send_message(*bulk, std::vector<std::uint8_t>(256 << 10)));
    ASSERT_FALSE(node.send_message(*small, p::encode(p::MetricsUpdate{1, 1, {{"loss", 0.5}}})));
    engine.receive(node.poll_output(), now_);  // one flush, no window updates yet
    bool metrics_arrived = false;
    for (auto& e : events(engine)) metrics_arrived |= (e.kind == Kind::message && e.stream_id == *small);
    EXPECT_TRUE(metrics_arrived);
}

TEST_F(Sessions, EngineIgnoringWindowsIsAFlowControlError) {
    auto [engine, node] = connect();
    std::error_code ec;
    auto id = engine.open_stream("job.submit", now_, ec);
    pump(engine, node);
    // Hand-written DATA frames past the 256 KiB stream window.
    p::FrameEncoder enc;
    for (int i = 0; i < 5; ++i) enc.append(p::FrameType::data, 0, *id, std::vector<std::uint8_t>(64 << 10));
    node.receive(enc.take(), now_);
    EXPECT_TRUE(node.closed());
    auto closed = find(node, Kind::closed);
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->error, errc::flow_control);
}

TEST_F(Sessions, TooManyStreamsAreRefusedIndividually) {
    config_.limits.max_concurrent_streams = 2;
    auto [engine, node] = connect();
    // The engine honours the node's limit by itself...
    std::error_code ec;
    engine.open_stream("job.submit", now_, ec);
    engine.open_stream("job.submit", now_, ec);
    EXPECT_FALSE(engine.open_stream("job.submit", now_, ec));
    EXPECT_EQ(ec, errc::too_many_streams);
    pump(engine, node);
    // ...and a hostile engine that does not is refused stream by stream.
    p::wire::Open o;
    o.set_method("job.submit");
    o.set_nonce(std::string(16, 'z'));
    o.set_timestamp_ms(std::chrono::duration_cast<std::chrono::milliseconds>(now_.wall).count());
    const std::string payload = o.SerializeAsString();
    p::FrameEncoder enc;
    enc.append(p::FrameType::open, 0, 9,
               {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()});
    events(node);
    node.receive(enc.take(), now_);
    EXPECT_FALSE(find(node, Kind::stream_opened));
    EXPECT_FALSE(node.closed());
    engine.receive(node.poll_output(), now_);
    auto reset = find(engine, Kind::stream_reset);
    EXPECT_FALSE(reset);  // stream 9 is unknown to the real engine; it ignores the reset
}

TEST_F(Sessions, OversizedFrameClosesTheSession) {
    auto [engine, node] = connect();
    auto header = p::encode_header({1, p::FrameType::data, 0, 1, (64U << 10) + 1});
    node.receive(header, now_);
    EXPECT_TRUE(node.closed());
    EXPECT_EQ(find(node, Kind::closed)->error, errc::frame_too_large);
}

TEST_F(Sessions, UnknownFramesIgnoredUnlessCritical) {
    auto [engine, node] = connect();
    p::FrameEncoder enc;
    enc.append(static_cast<p::FrameType>(0x42), 0, 0, std::vector<std::uint8_t>{1, 2});
    node.receive(enc.take(), now_);
    EXPECT_FALSE(node.closed());
    enc.append(static_cast<p::FrameType>(0x42), p::flags::critical, 0, {});
    node.receive(enc.take(), now_);
    EXPECT_TRUE(node.closed());
    EXPECT_EQ(find(node, Kind::closed)->error, errc::unknown_critical_frame);
}

TEST_F(Sessions, TokenExpiryDrainsThenCloses) {
    config_.limits.idle_timeout = std::chrono::hours(2);  // an hour passes without traffic in this test
    auto [engine, node] = connect();
    std::error_code ec;
    auto id = engine.open_stream("job.submit", now_, ec);
    pump(engine, node);
    const p::Now expiry = cyxp2p::test::at(kT0 + 3600);
    ASSERT_TRUE(node.next_timeout());
    EXPECT_EQ(*node.next_timeout(), expiry.mono);
    now_ = expiry;
    node.on_timeout(now_);
    pump(engine, node);
    auto away = find(engine, Kind::going_away);
    ASSERT_TRUE(away);
    EXPECT_EQ(away->error, errc::token_expired);
    EXPECT_FALSE(node.closed());  // the open stream may finish
    EXPECT_FALSE(engine.open_stream("job.submit", now_, ec));
    EXPECT_EQ(ec, errc::going_away);
    ASSERT_FALSE(engine.finish(*id));
    ASSERT_FALSE(node.finish(*id));
    pump(engine, node);
    EXPECT_TRUE(node.closed());
}

TEST_F(Sessions, ReauthExtendsTheSession) {
    auto [engine, node] = connect();
    auto c = claims();
    c.issued_at = kT0 + 1800;
    c.expires_at = kT0 + 1800 + 3600;
    now_ = cyxp2p::test::at(kT0 + 1800);
    ASSERT_FALSE(engine.reauth(token(c), now_));
    pump(engine, node);
    auto ack = find(engine, Kind::reauthenticated);
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->handshake.token_expiry, kT0 + 5400);
    EXPECT_EQ(node.claims()->expires_at, kT0 + 5400);
    now_ = cyxp2p::test::at(kT0 + 3601);
    node.on_timeout(now_);
    EXPECT_FALSE(find(node, Kind::going_away));
    pump(engine, node);
    EXPECT_FALSE(find(engine, Kind::going_away));
}

TEST_F(Sessions, ReauthForAnotherSubjectCloses) {
    auto [engine, node] = connect();
    auto c = claims();
    c.subject = "user-2";
    ASSERT_FALSE(engine.reauth(token(c), now_));
    pump(engine, node);
    EXPECT_TRUE(node.closed());
    EXPECT_EQ(find(engine, Kind::closed)->error, errc::token_rejected);
}

TEST_F(Sessions, KeepaliveAndIdleTimeout) {
    auto [engine, node] = connect();
    auto t = engine.next_timeout();
    ASSERT_TRUE(t);
    EXPECT_EQ(*t, (now_ + 30s).mono);  // ping_interval
    now_ += 30s;
    engine.on_timeout(now_);
    pump(engine, node);
    EXPECT_TRUE(find(engine, Kind::pong));
    // A node that stops answering: PING unanswered for ping_timeout closes the engine side.
    now_ += 30s;
    engine.on_timeout(now_);
    (void)engine.poll_output();  // dropped on the floor
    now_ += 15s;
    engine.on_timeout(now_);
    EXPECT_TRUE(engine.closed());
    EXPECT_EQ(find(engine, Kind::closed)->error, errc::ping_timeout);
    // And the node, hearing nothing for idle_timeout, closes too.
    node.on_timeout(now_ + 300s);
    EXPECT_TRUE(node.closed());
    EXPECT_EQ(find(node, Kind::closed)->error, errc::idle_timeout);
}

TEST_F(Sessions, GracefulGoAwayLetsOpenStreamsFinish) {
    auto [engine, node] = connect();
    std::error_code ec;
    auto id = engine.open_stream("job.submit", now_, ec);
    pump(engine, node);
    node.go_away(now_);
    pump(engine, node);
    EXPECT_TRUE(find(engine, Kind::going_away));
    EXPECT_FALSE(node.closed());
    ASSERT_FALSE(node.send_message(*id, p::encode(p::Outcome{})));
    ASSERT_FALSE(node.finish(*id));
    ASSERT_FALSE(engine.finish(*id));
    pump(engine, node);
    EXPECT_TRUE(node.closed());
    auto closed = find(node, Kind::closed);
    ASSERT_TRUE(closed);
    EXPECT_FALSE(closed->error);  // orderly
}

TEST_F(Sessions, DrainDeadlineCutsStragglers) {
    auto [engine, node] = connect();
    std::error_code ec;
    engine.open_stream("job.submit", now_, ec);
    pump(engine, node);
    node.go_away(now_);
    node.on_timeout(now_ + 10s);
    EXPECT_TRUE(node.closed());
    EXPECT_EQ(find(node, Kind::closed)->error, errc::going_away);
}

TEST_F(Sessions, EngineRefusesAckFromUnexpectedNode) {
    p::NodeSession node(config_, services_, now_);
    auto cfg = engine_config(token());
    cfg.expected_node_id = "some-other-node";
    p::EngineSession engine(cfg, now_);
    pump(engine, node);
    EXPECT_FALSE(engine.ready());
    EXPECT_TRUE(engine.closed());
    EXPECT_EQ(find(engine, Kind::closed)->error, errc::wrong_node);
}

}  // namespace
