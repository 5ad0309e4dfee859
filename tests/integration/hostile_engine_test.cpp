// A malicious engine against the real net::Node, after TLS: oversized frames, too many streams, ignored
// windows, replayed HELLO and OPEN, stale timestamps, bad tokens, bytes that are not TLS or not frames.
// Each case checks the node's specific error or close, its metrics and audit events, and that an honest
// engine connected to the same node keeps working.
#include "hostile_engine.hpp"

namespace {

using namespace hostile;

TEST_F(HostileEngine, OversizedFramesAreRefusedOnTheHeader) {
    start_node();
    connect_honest();
    // Before HELLO: a header announcing 16 MiB. The node answers on the 12 header bytes alone.
    {
        auto t = dial();
        ASSERT_TRUE(t);
        t->raw(protocol::encode_header({1, FrameType::hello, 0, 0, protocol::max_frame_size_ceiling}));
        expect_connection_error(*t, errc::frame_too_large);
    }
    eventually([&] { return audit_->count(Kind::handshake, "frame_too_large") == 1; },
               "audit: handshake frame_too_large");
    EXPECT_EQ(node_->metrics().handshakes_failed.load(), 1U);
    // After HELLO_ACK: one byte over the node's max_frame_size (64 KiB).
    {
        auto t = session();
        ASSERT_TRUE(t);
        const raw::Bytes payload((64U << 10) + 1, 0);
        t->frame(FrameType::data, 0, 1, payload);
        expect_connection_error(*t, errc::frame_too_large);
    }
    // Inside a stream: a message prefix above max_message_size (4 MiB) resets that stream only.
    {
        auto t = session();
        ASSERT_TRUE(t);
        open(*t, 1, "job.submit", nonce(), now_ms());
        t->frame(FrameType::data, 0, 1, raw::u32(5U << 20));
        expect_stream_error(*t, 1, errc::message_too_large);
        expect_alive(*t);
    }
    expect_honest_works();
}

TEST_F(HostileEngine, MoreStreamsThanAllowedAreRefusedOneByOne) {
    start_node([](net::NodeOptions& o) { o.session.max_concurrent_streams = 4; });
    connect_honest();
    auto t = session();
    ASSERT_TRUE(t);
    for (std::uint32_t id = 1; id <= 4; ++id) open(*t, id, "metrics.subscribe", nonce(), now_ms());
    expect_alive(*t);  // all four open: no ERROR came before the PONG
    for (const auto& f : t->skipped) EXPECT_NE(f.header.type, FrameType::error);
    // The fifth, and then a flood of 500 more: each refused on its own stream, the session unharmed.
    for (std::uint32_t id = 5; id < 505; ++id) open(*t, id, "metrics.subscribe", nonce(), now_ms());
    std::size_t refused = 0;
    for (auto deadline = raw::in(5s); refused < 500;) {
        auto f = t->next_of(FrameType::error, deadline);
        ASSERT_TRUE(f);
        ASSERT_NE(f->header.stream_id, 0U) << raw::parse_error(*f).message();
        EXPECT_EQ(raw::parse_error(*f).code(), static_cast<std::uint32_t>(errc::too_many_streams));
        ++refused;
    }
    expect_alive(*t);
    EXPECT_EQ(node_->metrics().streams_refused.load(), 500U);
    EXPECT_EQ(audit_->count(Kind::stream_refused, "too_many_streams"), 500U);
    EXPECT_EQ(node_->metrics().streams_opened.load(), 4U);
    // Reusing a stream id is not a refusal but a connection error.
    open(*t, 3, "metrics.subscribe", nonce(), now_ms());
    expect_connection_error(*t, errc::protocol_violation);
    expect_honest_works();
}

TEST_F(HostileEngine, IgnoringFlowControlWindowsClosesTheSession) {
    start_node([](net::NodeOptions& o) { o.session.initial_stream_window = 16U << 10; });
    connect_honest();
    // DATA beyond the stream window the node announced (16 KiB), in one frame the frame limit allows.
    {
        auto t = session();
        ASSERT_TRUE(t);
        open(*t, 1, "job.submit", nonce(), now_ms());
        raw::Bytes data = raw::u32(32U << 10);
        data.resize(4 + (20U << 10), 0);
        t->frame(FrameType::data, 0, 1, data);
        expect_connection_error(*t, errc::flow_control);
    }
    // Credit the node never had: a WINDOW_UPDATE that pushes its send window past 2^31-1.
    {
        auto t = session();
        ASSERT_TRUE(t);
        t->frame(FrameType::window_update, 0, 0, raw::u32(0x7FFFFFFF));
        expect_connection_error(*t, errc::flow_control);
    }
    // And a zero increment, which HTTP/2 also forbids.
    {
        auto t = session();
        ASSERT_TRUE(t);
        t->frame(FrameType::window_update, 0, 0, raw::u32(0));
        expect_connection_error(*t, errc::bad_frame);
    }
    expect_honest_works();
}

TEST_F(HostileEngine, ReplayedHelloIsRefused) {
    start_node();
    connect_honest();
    const auto h = hello(token(), nonce(), now_ms());
    auto first = dial();
    ASSERT_TRUE(first);
    auto ack = handshake(*first, h);
    ASSERT_TRUE(ack);
    ASSERT_EQ(ack->header.type, FrameType::hello_ack);
    // The same HELLO, byte for byte, on a second connection (a captured handshake replayed).
    auto second = dial();
    ASSERT_TRUE(second);
    second->control(FrameType::hello, 0, h);
    expect_connection_error(*second, errc::replayed, "duplicate_nonce");
    eventually([&] { return node_->metrics().replays_rejected.load() == 1; }, "replays_rejected");
    EXPECT_EQ(audit_->count(Kind::replay_rejected, "duplicate_nonce"), 1U);
    EXPECT_EQ(node_->metrics().handshakes_ok.load(), 2U);  // the honest engine and the first HELLO
    expect_alive(*first);
    // A second HELLO inside an established session is a violation, not a fresh handshake.
    first->control(FrameType::hello, 0, hello(token(), nonce(), now_ms()));
    expect_connection_error(*first, errc::protocol_violation);
    expect_honest_works();
}

TEST_F(HostileEngine, ReplayedOpenIsRefusedAndTheSessionGoesOn) {
    start_node();
    connect_honest();
    auto t = session();
    ASSERT_TRUE(t);
    const std::string n = nonce();
    const auto ts = now_ms();
    auto request = raw::message(protocol::encode(protocol::JobSubmit{"j1", {}}));
    open(*t, 1, "job.submit", n, ts);
    t->frame(FrameType::data, protocol::flags::end_stream, 1, request);
    auto reply = t->next_of(FrameType::data, raw::in(5s));
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->header.stream_id, 1U);
    // The same OPEN (nonce and timestamp) on a new stream id, then on another connection of the same subject.
    open(*t, 3, "job.submit", n, ts);
    expect_stream_error(*t, 3, errc::replayed);
    auto other = session();
    ASSERT_TRUE(other);
    open(*other, 1, "job.submit", n, ts);
    expect_stream_error(*other, 1, errc::replayed);
    // A fresh nonce on the first session still works.
    open(*t, 5, "job.submit", nonce(), now_ms());
    t->frame(FrameType::data, protocol::flags::end_stream, 5, request);
    auto again = t->next_of(FrameType::data, raw::in(5s));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->header.stream_id, 5U);
    eventually([&] { return node_->metrics().replays_rejected.load() == 2; }, "replays_rejected");
    EXPECT_EQ(audit_->count(Kind::replay_rejected), 2U);
    expect_honest_works();
}

TEST_F(HostileEngine, StaleAndFutureTimestampsAreRefused) {
    start_node();
    connect_honest();
    struct Case {
        std::int64_t skew_ms;
        const char* detail;
    };
    for (const Case c : {Case{-10 * 60'000, "timestamp_too_old"}, Case{+10 * 60'000, "timestamp_too_new"}}) {
        auto t = dial();
        ASSERT_TRUE(t);
        t->control(FrameType::hello, 0, hello(token(), nonce(), now_ms() + c.skew_ms));
        expect_connection_error(*t, errc::replayed, c.detail);
    }
    // An OPEN with a stale timestamp in a good session: that stream is refused.
    auto t = session();
    ASSERT_TRUE(t);
    open(*t, 1, "job.submit", nonce(), now_ms() - 10 * 60'000);
    expect_stream_error(*t, 1, errc::replayed);
    expect_alive(*t);
    eventually([&] { return node_->metrics().replays_rejected.load() == 3; }, "replays_rejected");
    EXPECT_EQ(audit_->count(Kind::replay_rejected, "timestamp_too_old"), 1U);
    EXPECT_EQ(audit_->count(Kind::replay_rejected, "timestamp_too_new"), 1U);
    expect_honest_works();
}

TEST_F(HostileEngine, BadTokensAreRejectedWithTheirReason) {
    start_node();
    connect_honest();
    const std::string good = token();
    const auto dot = good.find('.');
    const auto dot2 = good.find('.', dot + 1);
    const std::string payload = good.substr(dot + 1, dot2 - dot - 1);
    const std::string other =
        token([](auth::Claims& c) { c.subject = "user-x"; });  // a valid token, another payload
    auth::Jwk stranger = auth::Jwk::generate(auth::Algorithm::eddsa, "central-1");  // same kid, other key
    struct Case {
        std::string name, token;
        errc code;
        std::string detail;
    };
    const std::vector<Case> cases = {
        {"expired", token([](auth::Claims& c) {
             c.issued_at -= 7200;
             c.expires_at = c.issued_at + 3600;
         }),
         errc::token_rejected, "expired"},
        {"another node", token([](auth::Claims& c) { c.node_id = "node-other"; }), errc::wrong_node,
         "wrong_node"},
        {"alg none", b64url(R"({"alg":"none","typ":"JWT","kid":"central-1"})") + "." + payload + ".",
         errc::token_rejected, "unsupported_alg"},
        {"forged signature", token({}, &stranger), errc::token_rejected, "bad_signature"},
        {"signature of another token", good.substr(0, dot2) + other.substr(other.rfind('.')),
         errc::token_rejected, "bad_signature"},
        {"removed key", token({}, &old_key_), errc::token_rejected, "unknown_kid"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto t = dial();
        ASSERT_TRUE(t);
        t->control(FrameType::hello, 0, hello(c.token, nonce(), now_ms()));
        expect_connection_error(*t, c.code, c.detail);
    }
    eventually([&] { return node_->metrics().tokens_rejected.load() == cases.size(); }, "tokens_rejected");
    EXPECT_EQ(node_->metrics().handshakes_ok.load(), 1U);  // the honest engine only
    for (const auto* d : {"expired", "wrong_node", "unsupported_alg", "unknown_kid"}) {
        EXPECT_EQ(audit_->count(Kind::token_rejected, d), 1U) << d;
    }
    EXPECT_EQ(audit_->count(Kind::token_rejected, "bad_signature"), 2U);
    expect_honest_works();
}

TEST_F(HostileEngine, BytesThatAreNotTlsAreDropped) {
    start_node();
    connect_honest();
    for (const std::string& junk :
         {std::string("GET /metrics HTTP/1.1\r\nHost: node\r\n\r\n"), std::string(4096, '\x01')}) {
        const int fd = raw::tcp_connect(node_->local_port());
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL), static_cast<ssize_t>(junk.size()));
        std::size_t back = 0;
        EXPECT_TRUE(raw::wait_tcp_closed(fd, raw::in(2s), &back));
        EXPECT_LT(back, 64U);  // at most a TLS alert: nothing about the node
        ::close(fd);
    }
    eventually([&] { return node_->metrics().tls_failures.load() == 2; }, "tls_failures");
    EXPECT_EQ(audit_->count(Kind::tls_failed, "not_tls"), 2U);  // refused on the record header, before TLS
    EXPECT_EQ(node_->metrics().handshakes_ok.load(), 1U);
    expect_honest_works();
}

TEST_F(HostileEngine, GarbageBeforeHelloIsAConnectionError) {
    start_node();
    connect_honest();
    {  // inside TLS, bytes that are not frames
        auto t = dial();
        ASSERT_TRUE(t);
        const std::string junk = "hello node, let me in\n";
        t->raw(raw::as_span(junk));
        expect_connection_error(*t, errc::bad_version);
    }
    {  // a well-formed frame, but not HELLO
        auto t = dial();
        ASSERT_TRUE(t);
        open(*t, 1, "job.submit", nonce(), now_ms());
        expect_connection_error(*t, errc::protocol_violation);
    }
    {  // HELLO whose payload is not a protobuf message
        auto t = dial();
        ASSERT_TRUE(t);
        const raw::Bytes junk(64, 0xFF);
        t->frame(FrameType::hello, 0, 0, junk);
        expect_connection_error(*t, errc::bad_message);
    }
    eventually([&] { return node_->metrics().handshakes_failed.load() == 3; }, "handshakes_failed");
    EXPECT_EQ(audit_->count(Kind::handshake, "bad_version"), 1U);
    EXPECT_EQ(audit_->count(Kind::handshake, "protocol_violation"), 1U);
    EXPECT_EQ(audit_->count(Kind::handshake, "bad_message"), 1U);
    expect_honest_works();
}

}  // namespace
