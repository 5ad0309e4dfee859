// The whole stack over loopback: TLS 1.3 with pinning, HELLO with a real token, streams, content fetch
// with verification, limits, graceful stop. Multi-threaded node; runs under ThreadSanitizer in CI.
#include "fixture.hpp"

namespace {
using it::MemoryAudit;
using it::Transport;
using it::unix_now;

TEST_F(Transport, PinnedAuthenticatedRequestResponse) {
    start_node();
    run_io();
    auto o = options(token());
    auto report = o.report;
    auto [ec, conn] = connect(std::move(o));
    ASSERT_FALSE(ec) << ec.message() << " " << report->reject_detail;
    EXPECT_EQ(conn->handshake().node_id, "node-it");
    EXPECT_EQ(conn->handshake().session_id, "session-1");
    EXPECT_EQ(conn->tls().version, "TLSv1.3");
    EXPECT_EQ(conn->tls().alpn, "cyx-p2p/1");
    EXPECT_EQ(conn->tls().peer_pin, identity_->pin().to_string());
    // use_future: the completion-token model works for futures too.
    auto reply = conn->async_request("job.submit", protocol::encode(protocol::JobSubmit{"job-9", {}}),
                                     boost::asio::use_future);
    ASSERT_EQ(reply.wait_for(30s), std::future_status::ready);
    auto [rec, body] = reply.get();  // Boost 1.74's use_future hands std::error_code back in a tuple
    ASSERT_FALSE(rec) << rec.message();
    std::error_code dec;
    auto status = protocol::decode_outcome(body, dec);
    ASSERT_TRUE(status);
    EXPECT_EQ(status->message, "job-9 from user-7");
    EXPECT_TRUE(audit_->has(net::AuditEvent::Kind::handshake, "ok"));
}

TEST_F(Transport, FetchVerifiesAndWritesTheFile) {
    start_node();
    run_io();
    auto [ec, conn] = connect(options(token()));
    ASSERT_FALSE(ec) << ec.message();
    const auto dest = tmp_ / "fetched.bin";
    std::uint64_t last_done = 0, last_total = 0;
    auto result = conn->async_fetch(
        root_, dest,
        [&](std::uint64_t d, std::uint64_t t) {
            last_done = d;
            last_total = t;
        },
        boost::asio::use_future);
    ASSERT_EQ(result.wait_for(60s), std::future_status::ready);
    auto [fec, r] = result.get();
    ASSERT_FALSE(fec) << fec.message();
    EXPECT_EQ(r.bytes, std::filesystem::file_size(source_));
    EXPECT_EQ(cyxp2p::test::read_file(dest), cyxp2p::test::read_file(source_));
    EXPECT_EQ(last_done, std::filesystem::file_size(source_));
    EXPECT_EQ(last_total, std::filesystem::file_size(source_));
    EXPECT_GT(node_->metrics().content_blocks_served.load(), 10U);
}

TEST_F(Transport, UnknownContentIsNotFoundAndLeavesNoFile) {
    start_node();
    run_io();
    auto [ec, conn] = connect(options(token()));
    ASSERT_FALSE(ec);
    const auto dest = tmp_ / "missing.bin";
    auto result = conn->async_fetch("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", dest, {},
                                    boost::asio::use_future);
    ASSERT_EQ(result.wait_for(30s), std::future_status::ready);
    EXPECT_EQ(std::get<0>(result.get()), protocol::errc::content_not_found);
    EXPECT_FALSE(std::filesystem::exists(dest));
}

TEST_F(Transport, WrongPinIsRefusedBeforeAnyTokenIsSent) {
    start_node();
    run_io();
    std::error_code gen;
    auto other = pinning::Identity::generate({.node_id = "other"}, gen);
    auto o = options(token());
    o.pins = pinning::PinSet(other->pin());
    auto report = o.report;
    auto [ec, conn] = connect(std::move(o));
    EXPECT_EQ(ec, pinning::errc::pin_mismatch);
    EXPECT_FALSE(conn);
    EXPECT_EQ(report->failed_phase, "tls");
    EXPECT_NE(report->pin_check.find(identity_->pin().to_string()), std::string::npos) << report->pin_check;
    EXPECT_NE(report->pin_check.find(other->pin().to_string()), std::string::npos);
    EXPECT_EQ(node_->metrics().handshakes_ok.load(), 0U);
}

TEST_F(Transport, BadTokensAreRejectedWithTheirReason) {
    start_node();
    run_io();
    struct Case {
        std::string token;
        std::error_code want;
        std::string detail;
    };
    auth::Jwk stranger = auth::Jwk::generate(auth::Algorithm::eddsa, "central-1");
    auth::Claims c;
    c.subject = "user-7";
    c.node_id = "node-it";
    c.session_id = "s";
    c.issued_at = unix_now();
    c.expires_at = c.issued_at + 600;
    c.scope = {"job:execute"};
    std::error_code mec;
    const std::string forged = auth::mint(c, stranger, mec).value_or("");
    std::vector<Case> cases = {
        {token([](auth::Claims& x) {
             x.issued_at -= 7200;
             x.expires_at = x.issued_at + 3600;
         }),
         protocol::errc::token_rejected, "expired"},
        {token([](auth::Claims& x) { x.node_id = "someone-else"; }), protocol::errc::wrong_node,
         "wrong_node"},
        {forged, protocol::errc::token_rejected, "bad_signature"},
        {"not.a.token", protocol::errc::token_rejected, "bad_base64"},
    };
    for (auto& k : cases) {
        auto o = options(k.token);
        auto report = o.report;
        auto [ec, conn] = connect(std::move(o));
        EXPECT_EQ(ec, k.want) << k.detail << ": " << ec.message();
        EXPECT_EQ(report->reject_detail, k.detail);
        EXPECT_EQ(report->failed_phase, "hello");
    }
    EXPECT_EQ(node_->metrics().tokens_rejected.load(), cases.size());
    EXPECT_TRUE(audit_->has(net::AuditEvent::Kind::token_rejected, "expired"));
    // The node keeps serving honest engines.
    auto [ec, conn] = connect(options(token()));
    EXPECT_FALSE(ec);
}

TEST_F(Transport, ScopeIsEnforcedPerMethod) {
    start_node();
    run_io();
    auto [ec, conn] = connect(options(token([](auth::Claims& c) { c.scope = {"content:read"}; })));
    ASSERT_FALSE(ec);
    auto reply = conn->async_request("job.submit", protocol::encode(protocol::JobSubmit{"j", {}}),
                                     boost::asio::use_future);
    ASSERT_EQ(reply.wait_for(30s), std::future_status::ready);
    EXPECT_EQ(std::get<0>(reply.get()), protocol::errc::forbidden);
    EXPECT_TRUE(audit_->has(net::AuditEvent::Kind::stream_refused, "forbidden"));
}

TEST_F(Transport, ConnectionLimitPerAddressRefusesBeforeTls) {
    start_node(1, [](net::NodeOptions& o) {
        o.rate.connections.max_connections_per_address = 2;
        o.rate.connections.max_handshakes_per_address = 2;
    });
    run_io();
    auto [e1, c1] = connect(options(token()));
    auto [e2, c2] = connect(options(token()));
    ASSERT_FALSE(e1);
    ASSERT_FALSE(e2);
    auto [e3, c3] = connect(options(token()));
    EXPECT_TRUE(e3);
    EXPECT_FALSE(c3);
    EXPECT_GE(node_->metrics().connections_refused.load(), 1U);
    // The two admitted sessions still work.
    auto reply = c1->async_request("job.submit", protocol::encode(protocol::JobSubmit{"j", {}}),
                                   boost::asio::use_future);
    ASSERT_EQ(reply.wait_for(30s), std::future_status::ready);
    EXPECT_FALSE(std::get<0>(reply.get()));
}

TEST_F(Transport, ManyConcurrentEnginesOnAMultiThreadedNode) {
    // Every engine comes from 127.0.0.1: lift the per-address limits (the defaults refuse a 16-connection
    // burst).
    start_node(2, [](net::NodeOptions& o) {
        o.rate.connections.max_connections_per_address = 64;
        o.rate.connections.new_connections_per_address = {100, std::chrono::seconds(1), 100};
    });
    run_io(2);
    constexpr int kEngines = 16;
    std::vector<std::future<std::tuple<std::error_code, std::vector<std::uint8_t>>>> replies;
    std::vector<std::shared_ptr<net::Connection>> conns;
    for (int i = 0; i < kEngines; ++i) {
        auto [ec, conn] =
            connect(options(token([i](auth::Claims& c) { c.subject = "user-" + std::to_string(i); })));
        ASSERT_FALSE(ec) << ec.message();
        conns.push_back(conn);
    }
    for (int i = 0; i < kEngines; ++i) {
        for (int k = 0; k < 4; ++k) {
            replies.push_back(conns[static_cast<std::size_t>(i)]->async_request(
                "job.submit", protocol::encode(protocol::JobSubmit{"job-" + std::to_string(k), {}}),
                boost::asio::use_future));
        }
    }
    int ok = 0;
    for (auto& r : replies) {
        ASSERT_EQ(r.wait_for(60s), std::future_status::ready);
        auto [rec, body] = r.get();
        std::error_code dec;
        if (!rec && protocol::decode_outcome(body, dec)) ++ok;
    }
    EXPECT_EQ(ok, kEngines * 4);
    EXPECT_EQ(node_->metrics().handshakes_ok.load(), static_cast<std::uint64_t>(kEngines));
}

TEST_F(Transport, GracefulStopClosesEveryConnection) {
    start_node();
    run_io();
    auto [ec, conn] = connect(options(token()));
    ASSERT_FALSE(ec);
    node_->stop();
    EXPECT_EQ(node_->open_connections(), 0U);
    // The engine saw the node go: a new request fails instead of hanging.
    auto reply = conn->async_request("job.submit", protocol::encode(protocol::JobSubmit{"j", {}}),
                                     boost::asio::use_future);
    ASSERT_EQ(reply.wait_for(30s), std::future_status::ready);
    EXPECT_TRUE(std::get<0>(reply.get()));
    node_.reset();
}

TEST_F(Transport, ReauthAndPing) {
    start_node();
    run_io();
    auto [ec, conn] = connect(options(token()));
    ASSERT_FALSE(ec);
    auto rtt = conn->async_ping(boost::asio::use_future);
    ASSERT_EQ(rtt.wait_for(30s), std::future_status::ready);
    auto [pec, micros] = rtt.get();
    EXPECT_FALSE(pec);
    EXPECT_GT(micros.count(), 0);
    std::int64_t want = 0;
    const std::string fresh = token([&](auth::Claims& c) {
        c.expires_at = c.issued_at + 3000;
        want = c.expires_at;
    });
    auto expiry = conn->async_reauth(fresh, boost::asio::use_future);
    ASSERT_EQ(expiry.wait_for(30s), std::future_status::ready);
    auto [xec, got] = expiry.get();
    EXPECT_FALSE(xec) << xec.message();
    EXPECT_EQ(got, want);
}

TEST_F(Transport, PortInUseIsAClearError) {
    start_node(1);
    net::NodeOptions o{.identity = *identity_, .keys = keys_};
    o.port = node_->local_port();
    net::Node second(std::move(o));
    EXPECT_EQ(second.start(), net::errc::address_in_use);
}

}  // namespace
