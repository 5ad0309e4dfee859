// A connection flood against the real Node: hundreds of slow and garbage connections from many loopback
// networks (127.x.y.z) hold or churn the pre-auth slots while an honest engine connects and fetches. Every
// flood here is bounded in count and in time, and stays on loopback.
#include <algorithm>
#include <atomic>
#include <iostream>
#include <thread>

#include "fixture.hpp"
#include "flood_peer.hpp"

namespace raw = cyxp2p::test::raw;
using Kind = net::AuditEvent::Kind;

namespace {

class Flood : public it::Transport {
  protected:
    // Network n (a /24 of its own), host h.
    static std::array<std::uint8_t, 4> source(int n, int h) {
        return {127, static_cast<std::uint8_t>(20 + n / 250), static_cast<std::uint8_t>(n % 250),
                static_cast<std::uint8_t>(1 + h)};
    }
    static raw::FloodKind kind_of(int i) { return static_cast<raw::FloodKind>(i % 3); }
};

TEST_F(Flood, SlowAndGarbageConnectionsFromManyNetworksDoNotLockOutAnHonestEngine) {
    // The node's defaults throughout: 256 handshake slots, 64 per /24, eviction, adaptive deadlines.
    start_node(2);
    run_io(1);
    const cyxp2p::ratelimit::Limits defaults{};
    const auto& limits = defaults.connections;
    const auto t0 = std::chrono::steady_clock::now();
    raw::FloodPeers flood(node_->local_port());
    // 12 networks x 50 addresses: silent, a 5-byte record header, or 64 random bytes, in turn. 400 of them
    // hold a slot until a deadline: more than the table, from more networks than one network's cap allows.
    constexpr int kNetworks = 12, kHosts = 50;
    for (int n = 0; n < kNetworks; ++n)
        for (int h = 0; h < kHosts; ++h) flood.open(source(n, h), kind_of(n * kHosts + h));
    ASSERT_GE(flood.size(), static_cast<std::size_t>(kNetworks * kHosts * 9 / 10));
    // ... and more keep coming, from further networks, while the honest engine works.
    std::atomic<bool> done{false};
    std::atomic<int> churned{0};
    std::thread churn([&] {
        raw::FloodPeers more(node_->local_port());
        const auto until = raw::in(30s);
        for (int i = 0; !done && raw::Clock::now() < until && i < 3000; ++i) {
            if (more.open(source(kNetworks + i / kHosts, i % kHosts), kind_of(i))) ++churned;
            std::this_thread::sleep_for(5ms);  // ~200 new flood connections a second
        }
    });
    // Wait until the flood really fills the table: an honest connection now needs an eviction.
    const auto full = raw::in(10s);
    while (node_->metrics().handshakes_in_progress.load() <
               static_cast<std::int64_t>(limits.max_handshakes) &&
           raw::Clock::now() < full)
        std::this_thread::sleep_for(5ms);
    EXPECT_GE(node_->metrics().handshakes_in_progress.load(),
              static_cast<std::int64_t>(limits.max_handshakes));

    auto [ec, c] = connect(options(token()));
    ASSERT_FALSE(ec) << "the honest engine was locked out: " << ec.message();
    const auto dest = tmp_ / "fetched.bin";
    std::promise<std::error_code> fetched;
    c->async_fetch(root_, dest, {}, [&](std::error_code fec, net::FetchResult) { fetched.set_value(fec); });
    auto f = fetched.get_future();
    ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
    EXPECT_FALSE(f.get());
    EXPECT_EQ(cyxp2p::test::read_file(dest), cyxp2p::test::read_file(source_));
    done = true;
    churn.join();

    const auto& m = node_->metrics();
    EXPECT_GT(m.connections_evicted.load(), 0U);  // the table was full: slots changed hands
    EXPECT_GE(m.handshakes_ok.load(), 1U);
    // A flood must not flood the audit log: the events of connections that never authenticated are sampled
    // per kind (each kind at most its bucket: burst + rate x elapsed), the rest only counted.
    const auto elapsed_s =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0).count() + 1;
    const auto& sample = defaults.preauth_audit.rate;
    const auto bound =
        static_cast<std::size_t>(sample.burst + sample.tokens * static_cast<std::uint64_t>(elapsed_s));
    const auto events = audit_->events();
    for (const Kind k : {Kind::connection_refused, Kind::connection_evicted, Kind::tls_failed,
                         Kind::handshake, Kind::session_closed}) {
        const auto n = static_cast<std::size_t>(std::count_if(
            events.begin(), events.end(), [k](const net::AuditEvent& e) { return e.kind == k; }));
        EXPECT_LE(n, bound + 1) << net::to_string(k);  // + 1: the honest engine's own event
    }
    const std::size_t preauth_failures =
        m.tls_failures.load() + m.connections_refused.load() + m.connections_evicted.load();
    EXPECT_GT(preauth_failures, events.size());
    EXPECT_GT(m.audit_events_suppressed.load(), 0U);
    const std::size_t held = flood.size();
    c.reset();
    flood.close_all();
    const auto idle = raw::in(15s);
    while (m.handshakes_in_progress.load() != 0 && raw::Clock::now() < idle)
        std::this_thread::sleep_for(10ms);
    EXPECT_EQ(m.handshakes_in_progress.load(), 0);
    std::cout << "flood: " << held << " held + " << churned.load() << " churned connections; "
              << m.connections_evicted.load() << " evicted, " << m.tls_failures.load() << " TLS failures, "
              << m.connections_refused.load() << " refused; " << events.size() << " audit events, "
              << m.audit_events_suppressed.load() << " suppressed\n";
}

}  // namespace
