// Fleet mode's connection limits before TLS (docs/fleet.md, "Connection leases"): two net::Node instances
// with one identity sharing one real redis-server (tests/support/redis_server.hpp). The per-address cap on
// concurrent connections and the per-address new-connection rate hold across both nodes, a closed
// connection frees its lease, the leases of a process that stops renewing (a dead one) expire after their
// ttl while renewed ones do not, the keys carry TTLs, and with Redis killed a new connection is closed
// before TLS (refuse) or admitted on the local limits (local).
#include <future>
#include <sstream>

#include <redis_server.hpp>

#include <cyxp2p/net/impl/connection_leases.hpp>

#include "hostile_engine.hpp"

namespace {

using namespace hostile;
using cyxp2p::test::RedisServer;

constexpr const char* kPrefix = "t:";

class FleetLease : public HostileEngine {
  protected:
    void TearDown() override {
        for (auto* n : {&node_a_, &node_b_})
            if (*n) (*n)->stop();
        HostileEngine::TearDown();
    }

    net::RedisEndpoint endpoint() {
        std::error_code ec;
        auto ep = net::parse_redis_url(redis_.url(), ec);
        EXPECT_TRUE(ep) << ec.message();
        return ep.value_or(net::RedisEndpoint{});
    }

    void start_fleet(net::RedisUnavailable policy = net::RedisUnavailable::refuse,
                     std::function<void(net::NodeOptions&)> tweak = {}) {
        auto fleet = [&](net::NodeOptions& o) {
            o.fleet = net::FleetOptions{.redis = endpoint(), .prefix = kPrefix, .when_unavailable = policy};
            o.fleet->limits.reconnect_max = 200ms;
            o.fleet->limits.call_deadline = 2s;  // answers, not timeouts, on a loaded CI machine
            if (tweak) tweak(o);
        };
        for (auto* n : {&node_a_, &node_b_}) {
            start_node(fleet);
            *n = std::move(node_);
        }
        for (auto* n : {&node_a_, &node_b_})
            eventually([&] { return (*n)->metrics().fleet_redis_up.load() == 1; }, "connected to redis");
    }

    // A whole session (TLS and HELLO): null when the node closed the connection first.
    std::unique_ptr<raw::Tls> session_on(net::Node& n) {
        const int fd = raw::tcp_connect(n.local_port());
        if (fd < 0) return nullptr;
        auto t = std::make_unique<raw::Tls>(ctx_.get(), fd, false);
        pinning::expect_pins(t->ssl(), pinning::PinSet(identity_->pin()));
        if (!t->handshake(raw::in(5s))) return nullptr;
        auto ack = handshake(*t, hello(token(), nonce(), now_ms()));
        if (!ack || ack->header.type != FrameType::hello_ack) return nullptr;
        return t;
    }

    // Refused before TLS: the TLS handshake fails (the node closed the socket without a ServerHello), the
    // node counted a fleet refusal, and the audit log says why.
    void expect_refused_by_fleet(net::Node& n, const std::string& why) {
        const auto before = n.metrics().fleet_connections_refused.load();
        const auto audited = audit_->count(Kind::connection_refused, why);
        const int fd = raw::tcp_connect(n.local_port());
        ASSERT_GE(fd, 0);
        raw::Tls t(ctx_.get(), fd, false);
        EXPECT_FALSE(t.handshake(raw::in(5s))) << "TLS completed: not refused before TLS";
        eventually([&] { return n.metrics().fleet_connections_refused.load() == before + 1; },
                   "fleet_connections_refused");
        eventually([&] { return audit_->count(Kind::connection_refused, why) == audited + 1; },
                   "audit connection_refused " + why);
    }

    // Live leases of 127.0.0.1, counted as the script counts them (expired members dropped first).
    long long live_leases(const net::ConnectionLeases& l) {
        const auto key = l.lease_key(localhost());
        const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        return std::stoll(redis_.cli({"ZCOUNT", key, std::to_string(now_ms + 1), "+inf"}));
    }

    static cyxp2p::ratelimit::Address localhost() { return cyxp2p::ratelimit::Address::v4({127, 0, 0, 1}); }

    RedisServer redis_;
    std::unique_ptr<net::Node> node_a_;
    std::unique_ptr<net::Node> node_b_;
};

TEST_F(FleetLease, PerAddressConnectionCapHoldsAcrossBothNodesAndACloseFreesItsLease) {
    start_fleet(net::RedisUnavailable::refuse,
                [](net::NodeOptions& o) { o.rate.connections.max_connections_per_address = 3; });
    auto a1 = session_on(*node_a_);
    auto a2 = session_on(*node_a_);
    auto b1 = session_on(*node_b_);
    ASSERT_TRUE(a1 && a2 && b1);
    // Each node alone holds at most 2 < 3 of this address; the fleet holds 3.
    expect_refused_by_fleet(*node_b_, "fleet_too_many_connections_from_address");
    expect_refused_by_fleet(*node_a_, "fleet_too_many_connections_from_address");
    expect_alive(*a1);
    expect_alive(*b1);

    // A closed connection gives its lease back (ZREM at close), on the other node too.
    a1.reset();
    auto b2 = [&] {
        std::unique_ptr<raw::Tls> t;
        const auto deadline = raw::in(5s);
        while (!(t = session_on(*node_b_)) && raw::Clock::now() < deadline) std::this_thread::sleep_for(20ms);
        return t;
    }();
    ASSERT_TRUE(b2) << "the closed connection's lease was not released";
    expect_refused_by_fleet(*node_a_, "fleet_too_many_connections_from_address");

    // Both keys carry a TTL: the lease set's is the lease ttl (30 s by default), the bucket's its refill.
    const std::string keys = redis_.cli({"--scan", "--pattern", std::string(kPrefix) + "conn:*"});
    ASSERT_NE(keys.find("t:conn:lease:"), std::string::npos) << keys;
    // (The bucket key, 100/s here, is full again and gone 10 ms after its last charge: its TTL is checked
    // in the rate test, where it refills once an hour.)
    std::istringstream lines(keys);
    for (std::string key; std::getline(lines, key);) {
        const auto pttl = std::stoll(redis_.cli({"PTTL", key}));
        // -2: a bucket key that expired between SCAN and PTTL (its TTL at work); -1 (no TTL) still fails.
        if (pttl == -2 && key.find("conn:rate:") != std::string::npos) continue;
        EXPECT_GT(pttl, 0) << key;
        EXPECT_LE(pttl, 30'000) << key;
    }
    // The key names hold no address in clear: fixed-length digests.
    EXPECT_EQ(keys.find("127.0.0.1"), std::string::npos);
}

TEST_F(FleetLease, PerAddressNewConnectionRateHoldsAcrossBothNodes) {
    // Three new connections per address, refilling one an hour: the fourth is refused wherever it lands.
    start_fleet(net::RedisUnavailable::refuse, [](net::NodeOptions& o) {
        o.rate.connections.new_connections_per_address = {1, std::chrono::hours(1), 3};
    });
    auto a1 = session_on(*node_a_);
    auto b1 = session_on(*node_b_);
    auto a2 = session_on(*node_a_);
    ASSERT_TRUE(a1 && b1 && a2);
    // B alone has admitted one of its three.
    expect_refused_by_fleet(*node_b_, "fleet_rate_limited");
    EXPECT_EQ(node_b_->metrics().connections_accepted.load(), 1U);
    const std::string keys = redis_.cli({"--scan", "--pattern", std::string(kPrefix) + "conn:rate:*"});
    ASSERT_FALSE(keys.empty());
    const auto pttl = std::stoll(redis_.cli({"PTTL", keys.substr(0, keys.find('\n'))}));
    EXPECT_GT(pttl, 0);  // the bucket expires when it would be full again: about 3 h here
    EXPECT_LE(pttl, 3 * 3600 * 1000);
}

TEST_F(FleetLease, LeasesOfAProcessThatStopsRenewingExpireAfterTheTtl) {
    start_fleet(net::RedisUnavailable::refuse,
                [](net::NodeOptions& o) { o.rate.connections.max_connections_per_address = 2; });
    // A third process of the fleet with a short lease ttl takes the address's whole budget.
    auto client = std::make_shared<net::RedisClient>(endpoint(), std::nullopt);
    net::Metrics metrics;
    auto other = std::make_unique<net::ConnectionLeases>(client, kPrefix, net::RedisUnavailable::refuse,
                                                         600ms, &metrics);
    std::vector<net::ConnectionLease> leases;
    for (int i = 0; i < 2; ++i) {
        std::promise<net::LeaseVerdict> p;
        auto f = p.get_future();
        eventually([&] { return client->connected(); }, "client connected");
        other->acquire(localhost(), 2, {1000, std::chrono::seconds(1), 1000},
                       [&p](net::LeaseVerdict v) { p.set_value(std::move(v)); });
        auto v = f.get();
        ASSERT_EQ(v.result, net::LeaseVerdict::Result::admitted) << v.name() << " " << v.why;
        leases.push_back(std::move(v.lease));
    }
    EXPECT_EQ(other->held(), 2U);
    expect_refused_by_fleet(*node_a_, "fleet_too_many_connections_from_address");

    // Renewed every ttl / 3, they outlive their ttl twice over.
    std::this_thread::sleep_for(1200ms);
    EXPECT_EQ(live_leases(*other), 2);
    EXPECT_GE(metrics.fleet_lease_renewals.load(), 3U);
    EXPECT_EQ(metrics.fleet_lease_renewal_errors.load(), 0U);
    expect_refused_by_fleet(*node_b_, "fleet_too_many_connections_from_address");

    // The process dies: no renewal, no release. Its leases stop counting after the ttl.
    other->abandon();
    const auto renewals = metrics.fleet_lease_renewals.load();
    std::this_thread::sleep_for(900ms);
    EXPECT_EQ(metrics.fleet_lease_renewals.load(), renewals);
    EXPECT_EQ(live_leases(*other), 0);
    auto a1 = session_on(*node_a_);
    auto b1 = session_on(*node_b_);
    EXPECT_TRUE(a1 && b1) << "the dead process's leases still count";
    leases.clear();  // abandoned: removes nothing
    other.reset();
}

TEST_F(FleetLease, RedisKilledRefusesNewConnectionsBeforeTls) {
    start_fleet();
    auto a = session_on(*node_a_);
    ASSERT_TRUE(a);
    redis_.kill();
    eventually([&] { return node_a_->metrics().fleet_redis_up.load() == 0; }, "redis down noticed");
    expect_refused_by_fleet(*node_a_, "fleet_unavailable");
    expect_alive(*a);  // the established session goes on
    redis_.start();
    eventually([&] { return node_a_->metrics().fleet_redis_up.load() == 1; }, "redis back noticed");
    EXPECT_TRUE(session_on(*node_a_));
}

TEST_F(FleetLease, RedisKilledUnderLocalPolicyAdmitsOnTheLocalLimits) {
    start_fleet(net::RedisUnavailable::local,
                [](net::NodeOptions& o) { o.rate.connections.max_connections_per_address = 2; });
    redis_.kill();
    eventually([&] { return node_a_->metrics().fleet_redis_up.load() == 0; }, "redis down noticed");
    auto a1 = session_on(*node_a_);
    auto a2 = session_on(*node_a_);
    ASSERT_TRUE(a1 && a2);
    EXPECT_GE(node_a_->metrics().fleet_connection_fallbacks.load(), 2U);
    EXPECT_EQ(node_a_->metrics().fleet_connections_refused.load(), 0U);
    // The local cap still holds: refused at once, no round trip.
    const auto checks = node_a_->metrics().fleet_connection_checks.load();
    const int fd = raw::tcp_connect(node_a_->local_port());
    ASSERT_GE(fd, 0);
    raw::Tls t(ctx_.get(), fd, false);
    EXPECT_FALSE(t.handshake(raw::in(5s)));
    eventually(
        [&] { return audit_->count(Kind::connection_refused, "too_many_connections_from_address") == 1; },
        "local refusal");
    EXPECT_EQ(node_a_->metrics().fleet_connection_checks.load(), checks);
}

}  // namespace
