// A malicious engine against the real net::Node: a raw TLS client (the engine's own TLS context, pinned)
// or a bare TCP socket, speaking frames by hand. Oversized frames, too many streams, ignored windows,
// replayed HELLO and OPEN, stale timestamps, bad tokens, bytes that are not TLS, silence until the deadlines,
// a handshake flood. Each case checks the node's specific error or close, its metrics and audit events, and
// that an honest engine connected to the same node keeps working.
#include <future>
#include <random>
#include <thread>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <support.hpp>

#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/auth/keyring.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/net/node.hpp>
#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/ratelimit/limits.hpp>

#include "raw_peer.hpp"

namespace net = cyxp2p::net;
namespace auth = cyxp2p::auth;
namespace pinning = cyxp2p::pinning;
namespace protocol = cyxp2p::protocol;
namespace content = cyxp2p::content;
namespace raw = cyxp2p::test::raw;
namespace wire = cyxp2p::protocol::wire;
using namespace std::chrono_literals;
using cyxp2p::test::TempDir;
using protocol::errc;
using protocol::FrameType;
using Kind = net::AuditEvent::Kind;

namespace {

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}
std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string b64url(std::string_view in) {
    static constexpr char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char ch : in) {
        acc = (acc << 8) | static_cast<unsigned char>(ch);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += abc[(acc >> bits) & 0x3F];
        }
    }
    if (bits > 0) out += abc[(acc << (6 - bits)) & 0x3F];
    return out;
}

class MemoryAudit final : public net::AuditSink {
  public:
    void record(const net::AuditEvent& e) override {
        std::lock_guard lock(mutex_);
        events_.push_back(e);
    }
    std::size_t count(Kind k, std::string_view result = {}) {
        std::lock_guard lock(mutex_);
        return static_cast<std::size_t>(std::count_if(
            events_.begin(), events_.end(),
            [&](const net::AuditEvent& e) { return e.kind == k && (result.empty() || e.result == result); }));
    }

  private:
    std::mutex mutex_;
    std::vector<net::AuditEvent> events_;
};

class HostileEngine : public ::testing::Test {
  protected:
    void SetUp() override {
        std::error_code ec;
        identity_ = pinning::Identity::generate({.node_id = "node-e"}, ec);
        ASSERT_TRUE(identity_);
        key_ = auth::Jwk::generate(auth::Algorithm::eddsa, "central-1");
        old_key_ = auth::Jwk::generate(auth::Algorithm::eddsa, "central-0");
        auto keys = std::make_shared<auth::Keyring>();
        ASSERT_FALSE(keys->add(old_key_));
        ASSERT_FALSE(keys->add(key_));
        ASSERT_TRUE(keys->remove("central-0"));  // rotated out: tokens it signed must stop working
        keys_ = keys;
        ctx_ = pinning::make_engine_context(ec);
        ASSERT_TRUE(ctx_);
        io_thread_ = std::thread([this] { io_.run(); });
    }

    void TearDown() override {
        honest_.reset();
        if (node_) node_->stop();
        work_.reset();
        io_.stop();
        if (io_thread_.joinable()) io_thread_.join();
    }

    void start_node(std::function<void(net::NodeOptions&)> tweak = {}) {
        net::NodeOptions o{.identity = *identity_, .keys = keys_};  // NOLINT(missing-field-initializers)
        o.audit = audit_;
        o.tls_handshake_timeout = 1500ms;
        o.session.hello_timeout = 1500ms;
        // Every peer here is 127.0.0.1: room for the honest engine and a few hostile connections per test.
        o.rate.connections.new_connections_per_address = {100, std::chrono::seconds(1), 100};
        o.rate.connections.max_handshakes_per_address = 16;
        if (tweak) tweak(o);
        node_ = std::make_unique<net::Node>(std::move(o));
        node_->handle_unary("job.submit", "job:execute", [](const net::Request& r, std::error_code& ec) {
            auto job = protocol::decode_job_submit(r.body, ec);
            if (!job) return std::vector<std::uint8_t>{};
            return protocol::encode(protocol::Status{false, "echo", job->job_id});
        });
        // A stream that stays open until the engine goes: what too_many_streams counts.
        net::MethodHandlers h;
        h.on_open = [this](const net::StreamPtr& s) { held_.push_back(s); };
        node_->handle("metrics.subscribe", "metrics:read", std::move(h));
        ASSERT_FALSE(node_->start());
    }

    std::string token(std::function<void(auth::Claims&)> tweak = {}, const auth::Jwk* key = nullptr) {
        auth::Claims c;
        c.subject = "user-e";
        c.node_id = "node-e";
        c.session_id = "s-e";
        c.issued_at = unix_now();
        c.expires_at = c.issued_at + 3600;
        c.scope = {"job:execute", "metrics:read", "content:read"};
        if (tweak) tweak(c);
        std::error_code ec;
        auto t = auth::mint(c, key != nullptr ? *key : key_, ec);
        EXPECT_TRUE(t) << ec.message();
        return t.value_or("");
    }

    std::string nonce() {
        std::string n(16, '\0');
        for (auto& c : n) c = static_cast<char>(rng_());
        return n;
    }

    // The honest engine, connected before the attack and checked after it.
    void connect_honest() {
        net::ConnectOptions o{.host = "127.0.0.1",
                              .port = node_->local_port(),
                              .pins = pinning::PinSet(identity_->pin()),
                              .token = token(),
                              .expected_node_id = "node-e",
                              .report = nullptr};
        auto f = engine_.async_connect(std::move(o), boost::asio::use_future);
        ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
        auto [ec, c] = f.get();
        ASSERT_FALSE(ec) << ec.message();
        honest_ = c;
    }
    void expect_honest_works() {
        ASSERT_TRUE(honest_);
        auto r = honest_->async_request("job.submit", protocol::encode(protocol::JobSubmit{"still-here", {}}),
                                        boost::asio::use_future);
        ASSERT_EQ(r.wait_for(10s), std::future_status::ready);
        auto [ec, body] = r.get();
        ASSERT_FALSE(ec) << "honest session after the attack: " << ec.message();
        std::error_code dec;
        auto status = protocol::decode_status(body, dec);
        ASSERT_TRUE(status);
        EXPECT_EQ(status->message, "still-here");
    }

    // A raw TLS connection to the node, pinned like an engine; null if TLS fails.
    std::unique_ptr<raw::Tls> dial() {
        const int fd = raw::tcp_connect(node_->local_port());
        if (fd < 0) return nullptr;
        auto t = std::make_unique<raw::Tls>(ctx_.get(), fd, false);
        pinning::expect_pins(t->ssl(), pinning::PinSet(identity_->pin()));
        if (!t->handshake(raw::in(5s))) return nullptr;
        return t;
    }

    static wire::Hello hello(const std::string& tok, const std::string& n, std::int64_t ts) {
        wire::Hello h;
        h.set_token(tok);
        h.set_nonce(n);
        h.set_timestamp_ms(ts);
        h.set_engine_version("evil-engine/1");
        h.set_protocol_version(1);
        return h;
    }

    // HELLO and its answer: the HELLO_ACK, or the ERROR on stream 0 (nullopt if the node just closed).
    std::optional<raw::OwnedFrame> handshake(raw::Tls& t, const wire::Hello& h) {
        t.control(FrameType::hello, 0, h);
        return t.next(raw::in(5s));
    }
    std::unique_ptr<raw::Tls> session() {
        auto t = dial();
        if (!t) return nullptr;
        auto ack = handshake(*t, hello(token(), nonce(), now_ms()));
        if (!ack || ack->header.type != FrameType::hello_ack) return nullptr;
        return t;
    }

    static void open(raw::Tls& t, std::uint32_t id, const std::string& method, const std::string& n,
                     std::int64_t ts) {
        wire::Open o;
        o.set_method(method);
        o.set_nonce(n);
        o.set_timestamp_ms(ts);
        t.control(FrameType::open, id, o);
    }

    // The node's connection error: ERROR on stream 0 followed by the close.
    static void expect_connection_error(raw::Tls& t, errc code, std::string_view detail = {}) {
        auto f = t.next_of(FrameType::error, raw::in(5s));
        ASSERT_TRUE(f) << "no ERROR frame, expected " << protocol::to_string(code);
        EXPECT_EQ(f->header.stream_id, 0U);
        const auto e = raw::parse_error(*f);
        EXPECT_EQ(e.code(), static_cast<std::uint32_t>(code))
            << "got " << protocol::to_string(protocol::from_wire(e.code())) << ": " << e.message();
        if (!detail.empty()) {
            EXPECT_EQ(e.detail(), detail);
        }
        EXPECT_TRUE(t.wait_closed(raw::in(5s))) << "the node kept the connection open";
    }

    // The node's stream error on `id` (the session goes on).
    static void expect_stream_error(raw::Tls& t, std::uint32_t id, errc code) {
        const auto deadline = raw::in(5s);
        while (auto f = t.next(deadline)) {
            if (f->header.type != FrameType::error) continue;
            ASSERT_EQ(f->header.stream_id, id) << raw::parse_error(*f).message();
            EXPECT_EQ(raw::parse_error(*f).code(), static_cast<std::uint32_t>(code))
                << raw::parse_error(*f).message();
            return;
        }
        FAIL() << "no ERROR on stream " << id;
    }

    // PING answered: the session is alive.
    static void expect_alive(raw::Tls& t) {
        const std::array<std::uint8_t, 8> opaque{1, 2, 3, 4, 5, 6, 7, 8};
        t.frame(FrameType::ping, 0, 0, opaque);
        // The node's own RTT PINGs (docs/protocol.md section 6) may come first: skip to the answer.
        auto f = t.next_of(FrameType::ping, raw::in(5s));
        while (f && !(f->header.flags & protocol::flags::ack)) f = t.next_of(FrameType::ping, raw::in(5s));
        ASSERT_TRUE(f) << "no PONG";
        EXPECT_TRUE(f->header.flags & protocol::flags::ack);
        EXPECT_EQ(f->payload, raw::Bytes(opaque.begin(), opaque.end()));
    }

    // Waits for a counter the node's threads move (the raw peer can see the close before the node counted
    // it).
    static void eventually(const std::function<bool()>& cond, std::string_view what) {
        const auto deadline = raw::in(5s);
        while (!cond() && raw::Clock::now() < deadline) std::this_thread::sleep_for(5ms);
        EXPECT_TRUE(cond()) << what;
    }

    TempDir tmp_;
    std::optional<pinning::Identity> identity_;
    auth::Jwk key_ = auth::Jwk::generate(auth::Algorithm::eddsa, "unused");
    auth::Jwk old_key_ = auth::Jwk::generate(auth::Algorithm::eddsa, "unused");
    std::shared_ptr<const auth::Keyring> keys_;
    pinning::SslCtxPtr ctx_;
    std::shared_ptr<MemoryAudit> audit_ = std::make_shared<MemoryAudit>();
    std::vector<net::StreamPtr> held_;
    std::unique_ptr<net::Node> node_;
    std::mt19937_64 rng_{std::random_device{}()};
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
        boost::asio::make_work_guard(io_);
    net::Engine engine_{io_.get_executor()};
    std::shared_ptr<net::Connection> honest_;
    std::thread io_thread_;
};

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
    EXPECT_EQ(audit_->count(Kind::tls_failed), 2U);
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

TEST_F(HostileEngine, SilentConnectionsAreClosedAtTheirDeadlines) {
    start_node([](net::NodeOptions& o) {
        o.tls_handshake_timeout = 400ms;
        o.session.hello_timeout = 400ms;
    });
    connect_honest();
    {  // TCP only, never a ClientHello
        const int fd = raw::tcp_connect(node_->local_port());
        ASSERT_GE(fd, 0);
        const auto t0 = raw::Clock::now();
        EXPECT_TRUE(raw::wait_tcp_closed(fd, raw::in(3s)));
        const auto took = raw::Clock::now() - t0;
        EXPECT_GE(took, 300ms);
        EXPECT_LT(took, 2s);
        ::close(fd);
    }
    eventually([&] { return audit_->count(Kind::tls_failed, "tls_timeout") == 1; },
               "audit: tls_failed tls_timeout");
    EXPECT_EQ(node_->metrics().tls_failures.load(), 1U);
    {  // TLS, then never a HELLO
        auto t = dial();
        ASSERT_TRUE(t);
        const auto t0 = raw::Clock::now();
        expect_connection_error(*t, errc::hello_timeout);
        EXPECT_LT(raw::Clock::now() - t0, 2s);
    }
    eventually([&] { return audit_->count(Kind::handshake, "hello_timeout") == 1; },
               "audit: handshake hello_timeout");
    expect_honest_works();
}

TEST_F(HostileEngine, HandshakeFloodIsLimitedWhileAnEstablishedSessionKeepsTransferring) {
    // A 3 MiB file to fetch through the flood; the node's default per-address connection limits.
    std::error_code ec;
    const auto source = tmp_ / "model.bin";
    std::mt19937_64 rng(3);
    std::string data(3 * 1024 * 1024 + 5, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    cyxp2p::test::write_file(source, data);
    auto store = content::Blockstore::open(tmp_ / "blocks", ec);
    ASSERT_TRUE(store);
    auto imported =
        content::import_file(source, content::ImportOptions::kubo_default(), store->sink(source), ec);
    ASSERT_TRUE(imported);
    const cyxp2p::ratelimit::ConnectionLimits limits{};
    start_node([&](net::NodeOptions& o) {
        o.content = store;
        o.rate.connections = limits;
        o.tls_handshake_timeout = 2s;
    });
    connect_honest();
    // 40 connections from the same address that never finish TLS.
    std::vector<int> flood;
    for (int i = 0; i < 40; ++i) {
        const int fd = raw::tcp_connect(node_->local_port());
        if (fd >= 0) flood.push_back(fd);
    }
    eventually(
        [&] {
            return node_->metrics().connections_refused.load() +
                       node_->metrics().connections_accepted.load() >=
                   41;
        },
        "every flood connection reached the limiter");
    const auto admitted = node_->metrics().connections_accepted.load() - 1;
    EXPECT_LE(admitted, limits.max_handshakes_per_address);
    EXPECT_GE(node_->metrics().connections_refused.load(), 40 - limits.max_handshakes_per_address);
    EXPECT_GE(audit_->count(Kind::connection_refused), 40 - limits.max_handshakes_per_address);
    // Meanwhile, with the half-open connections still held, the established session downloads 3 MiB.
    const auto dest = tmp_ / "fetched.bin";
    auto fetch = honest_->async_fetch(imported->root.to_string(), dest, {}, boost::asio::use_future);
    ASSERT_EQ(fetch.wait_for(20s), std::future_status::ready);
    auto [fec, r] = fetch.get();
    ASSERT_FALSE(fec) << fec.message();
    EXPECT_EQ(cyxp2p::test::read_file(dest), data);
    expect_honest_works();
    for (int fd : flood) ::close(fd);
}

}  // namespace
