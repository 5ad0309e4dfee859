// Node::update_limits on real sessions (docs/net.md, "Live limits"; docs/operations.md, "Reload (SIGHUP)"):
// a lowered request rate bites on the next OPEN of a session opened before the change, a raised one lets it
// through again, a raised connection cap admits more connections and a lowered one refuses new ones without
// closing any, the stream count reaches new sessions only, and an impossible value changes nothing. The
// buckets run on a ManualClock that never moves, so no refill can hide a limiter that was not replaced.
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/ratelimit/errc.hpp>

#include "fixture.hpp"

namespace {
using it::Transport;

std::error_code request(net::Connection& c) {
    auto f = c.async_request("job.submit", protocol::encode(protocol::JobSubmit{"j", {}}),
                             boost::asio::use_future);
    if (f.wait_for(30s) != std::future_status::ready) return std::make_error_code(std::errc::timed_out);
    return std::get<0>(f.get());
}

TEST_F(Transport, LoweredRateBitesOnTheNextOpenOfAnOpenSessionAndARaisedOneLetsItThrough) {
    auto clock = std::make_shared<net::ManualClock>();
    start_node(2, [&](net::NodeOptions& o) { o.clock = clock; });
    run_io();
    auto [ec, conn] = connect(options(token()));
    ASSERT_FALSE(ec) << ec.message();
    for (int i = 0; i < 5; ++i) ASSERT_FALSE(request(*conn));  // the default: 50/s, bursts of 100

    auto live = node_->limits();
    live.requests_per_peer = {.tokens = 1, .period = 1h, .burst = 2};
    ASSERT_FALSE(node_->update_limits(live));
    EXPECT_EQ(node_->limits().requests_per_peer.burst, 2U);
    // A new bucket, full at the new burst: two more opens, then the same session is refused.
    EXPECT_FALSE(request(*conn));
    EXPECT_FALSE(request(*conn));
    EXPECT_EQ(request(*conn), protocol::errc::rate_limited);
    EXPECT_TRUE(conn->open());  // a refused OPEN resets that stream only
    // The limit is per token subject, not per session: a session opened after the change shares the bucket.
    auto [ec2, second] = connect(options(token()));
    ASSERT_FALSE(ec2) << ec2.message();
    EXPECT_EQ(request(*second), protocol::errc::rate_limited);

    live.requests_per_peer = {.tokens = 50, .period = 1s, .burst = 100};
    ASSERT_FALSE(node_->update_limits(live));
    EXPECT_FALSE(request(*conn));
    EXPECT_FALSE(request(*second));
    EXPECT_EQ(node_->metrics().rate_limited.load(), 2U);
}

TEST_F(Transport, AnUnchangedRateKeepsItsBucketAcrossAnUpdate) {
    auto clock = std::make_shared<net::ManualClock>();
    start_node(1, [&](net::NodeOptions& o) {
        o.clock = clock;
        o.rate.requests_per_peer.rate = {.tokens = 1, .period = 10s, .burst = 2};
    });
    run_io();
    auto [ec, conn] = connect(options(token()));
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_FALSE(request(*conn));
    ASSERT_FALSE(request(*conn));
    ASSERT_EQ(request(*conn), protocol::errc::rate_limited);
    // Another setting changes (and the per-method rate): the per-peer bucket must stay empty, or every reload
    // would hand every engine a fresh burst.
    auto live = node_->limits();
    live.max_connections = 100;
    live.requests_per_method = {.tokens = 1000, .period = 1s, .burst = 2000};
    ASSERT_FALSE(node_->update_limits(live));
    EXPECT_EQ(request(*conn), protocol::errc::rate_limited);
    clock->advance(10s);  // one token refills, on the same bucket
    EXPECT_FALSE(request(*conn));
    EXPECT_EQ(request(*conn), protocol::errc::rate_limited);
}

TEST_F(Transport, LoweredMethodRateBitesOnAnOpenSession) {
    auto clock = std::make_shared<net::ManualClock>();
    start_node(2, [&](net::NodeOptions& o) { o.clock = clock; });
    run_io();
    auto [ec, conn] = connect(options(token()));
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_FALSE(request(*conn));
    auto live = node_->limits();
    live.requests_per_method = {.tokens = 1, .period = 1h, .burst = 1};
    ASSERT_FALSE(node_->update_limits(live));
    EXPECT_FALSE(request(*conn));
    EXPECT_EQ(request(*conn), protocol::errc::rate_limited);
    // Another subject, the same method: the per-method bucket is shared by all peers.
    auto [ec2, other] = connect(options(token([](auth::Claims& c) { c.subject = "user-8"; })));
    ASSERT_FALSE(ec2) << ec2.message();
    EXPECT_EQ(request(*other), protocol::errc::rate_limited);
}

TEST_F(Transport, RaisedConnectionCapAdmitsMoreAndALoweredOneClosesNobody) {
    start_node(2, [](net::NodeOptions& o) { o.rate.connections.max_connections_per_address = 1; });
    run_io();
    auto [ec, first] = connect(options(token()));
    ASSERT_FALSE(ec) << ec.message();
    auto [refused, none] = connect(options(token()));
    EXPECT_EQ(refused, net::errc::connection_refused_by_limit) << refused.message();
    EXPECT_EQ(node_->metrics().connections_refused.load(), 1U);

    auto live = node_->limits();
    live.max_connections_per_address = 3;
    ASSERT_FALSE(node_->update_limits(live));
    std::vector<std::shared_ptr<net::Connection>> more;
    for (int i = 0; i < 2; ++i) {
        auto [e, c] = connect(options(token()));
        ASSERT_FALSE(e) << i << ": " << e.message();
        more.push_back(c);
    }
    auto [over, none2] = connect(options(token()));
    EXPECT_EQ(over, net::errc::connection_refused_by_limit) << over.message();

    // The total cap, lowered below what is open: the three sessions keep working, new ones are refused.
    live.max_connections = 2;
    live.max_connections_per_address = 16;  // so the total is what refuses
    ASSERT_FALSE(node_->update_limits(live));
    auto [total, none3] = connect(options(token()));
    EXPECT_EQ(total, net::errc::connection_refused_by_limit) << total.message();
    EXPECT_FALSE(request(*first));
    for (auto& c : more) EXPECT_FALSE(request(*c));
    EXPECT_EQ(node_->metrics().connections_refused.load(), 3U);
    EXPECT_TRUE(audit_->has(net::AuditEvent::Kind::connection_refused,
                            cyxp2p::ratelimit::to_string(cyxp2p::ratelimit::errc::too_many_connections)));
    EXPECT_TRUE(audit_->has(
        net::AuditEvent::Kind::connection_refused,
        cyxp2p::ratelimit::to_string(cyxp2p::ratelimit::errc::too_many_connections_from_address)));
}

TEST_F(Transport, StreamCountReachesNewSessionsOnly) {
    start_node(2);
    run_io();
    auto [ec, before] = connect(options(token()));
    ASSERT_FALSE(ec) << ec.message();
    auto live = node_->limits();
    const auto announced = live.max_concurrent_streams;
    live.max_concurrent_streams = 3;
    ASSERT_FALSE(node_->update_limits(live));
    auto [ec2, after] = connect(options(token()));
    ASSERT_FALSE(ec2) << ec2.message();
    EXPECT_EQ(before->handshake().peer_limits.max_concurrent_streams, announced);
    EXPECT_EQ(after->handshake().peer_limits.max_concurrent_streams, 3U);
}

TEST_F(Transport, ImpossibleLimitsChangeNothing) {
    start_node(1, [](net::NodeOptions& o) { o.rate.connections.max_connections_per_address = 1; });
    run_io();
    const auto before = node_->limits();
    auto bad = before;
    bad.max_connections_per_address = 5;
    bad.requests_per_peer = {.tokens = 1, .period = 0s, .burst = 1};  // period must be > 0
    EXPECT_EQ(node_->update_limits(bad), net::errc::limits_out_of_range);
    bad = before;
    bad.max_connections = 0;
    EXPECT_EQ(node_->update_limits(bad), net::errc::limits_out_of_range);
    bad = before;
    bad.max_connections = cyxp2p::ratelimit::ConnectionLimits{}.max_tracked_addresses + 1;
    EXPECT_EQ(node_->update_limits(bad), net::errc::limits_out_of_range);
    bad = before;
    bad.max_concurrent_streams = 0;
    EXPECT_EQ(node_->update_limits(bad), net::errc::limits_out_of_range);
    EXPECT_EQ(node_->limits().max_connections_per_address, 1U);
    auto [ec, first] = connect(options(token()));
    ASSERT_FALSE(ec) << ec.message();
    auto [refused, none] = connect(options(token()));
    EXPECT_EQ(refused, net::errc::connection_refused_by_limit) << refused.message();
}

}  // namespace
