// Counters a node keeps, readable from any thread, rendered in the Prometheus text format for /metrics.
// Names follow the Prometheus conventions (base units, `_total` for counters, `_bytes`/`_seconds` units,
// one labelled family instead of one name per reason); docs/operations.md lists the renames.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <cyxp2p/auth/key_source.hpp>
#include <cyxp2p/net/audit.hpp>

namespace cyxp2p::net {

/// A counter split by one label (`reason`, `result`). Label values are error code names; at most
/// kMaxValues distinct ones are kept and anything else, or anything not [a-z0-9_] (a peer's text), is
/// counted as "other", so the exposition stays bounded whatever peers send.
class LabeledCounter {
  public:
    static constexpr std::size_t kMaxValues = 32;
    void add(std::string_view value, std::uint64_t n = 1);
    std::uint64_t get(std::string_view value) const;
    std::uint64_t total() const;
    std::vector<std::pair<std::string, std::uint64_t>> snapshot() const;

  private:
    mutable std::mutex mutex_;
    std::map<std::string, std::uint64_t, std::less<>> values_;
};

/// A Prometheus histogram of durations, in seconds, with fixed upper bounds (at most kMaxBuckets).
class DurationHistogram {
  public:
    static constexpr std::size_t kMaxBuckets = 16;
    explicit DurationHistogram(std::span<const double> upper_bounds_s);
    void observe(std::chrono::nanoseconds d);
    std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
    /// Appends the `_bucket`, `_sum` and `_count` series of `name`.
    void render(std::string& out, std::string_view name, std::string_view help) const;

  private:
    std::vector<double> bounds_;
    std::array<std::atomic<std::uint64_t>, kMaxBuckets> buckets_{};  // non-cumulative
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_ns_{0};
};

/// TLS + HELLO take milliseconds on a LAN and up to the HELLO deadline on a bad path.
inline constexpr std::array<double, 12> kHandshakeBucketsS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                              0.1,   0.25,   0.5,   1,    2.5,   10};
/// A content.fetch moves anything from one block to a 10 GB model.
inline constexpr std::array<double, 12> kFetchBucketsS = {0.01, 0.05, 0.1, 0.5, 1,   5,
                                                          10,   30,   60,  300, 900, 3600};
/// Smoothed RTT of a session: loopback and LAN below 1 ms, intercontinental paths up to ~300 ms.
inline constexpr std::array<double, 12> kRttBucketsS = {0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                        0.025,  0.05,   0.1,   0.2,    0.5,   1};

struct Metrics {
    std::atomic<std::uint64_t> connections_accepted{0};
    std::atomic<std::uint64_t> connections_refused{0};    // by the connection limiter
    std::atomic<std::uint64_t> connections_evicted{0};    // pre-auth, for a newer connection (table full)
    std::atomic<std::int64_t> handshakes_in_progress{0};  // gauge: admitted, not yet authenticated or closed
    std::atomic<std::uint64_t> client_hello_timeouts{0};  // closed before sending a byte (also tls_failures)
    std::atomic<std::uint64_t> audit_events_suppressed{0};  // pre-auth audit events sampled out
    std::atomic<std::int64_t> connections_open{0};          // gauge
    std::atomic<std::uint64_t> tls_failures{0};
    std::atomic<std::uint64_t> handshakes_ok{0};
    std::atomic<std::uint64_t> handshakes_failed{0};
    std::atomic<std::uint64_t> tokens_rejected{0};
    std::atomic<std::uint64_t> replays_rejected{0};
    std::atomic<std::uint64_t> rate_limited{0};
    std::atomic<std::uint64_t> streams_opened{0};
    std::atomic<std::uint64_t> streams_refused{0};
    /// Calls into method handlers that threw (each reset its stream with internal; filled by observe()).
    std::atomic<std::uint64_t> handler_exceptions{0};
    std::atomic<std::uint64_t> bytes_in{0};
    std::atomic<std::uint64_t> bytes_out{0};
    std::atomic<std::uint64_t> content_blocks_served{0};
    std::atomic<std::uint64_t> content_bytes_served{0};
    // Bytes the node holds for its peers and has not yet handed to TLS: content read ahead of the sessions'
    // queues, plus what the sessions queued (messages not yet framed, control frames). Bounded by the
    // producers' marks, never by the peer's windows (docs/net.md, "Send path memory").
    std::atomic<std::int64_t> send_buffered_bytes{0};       // gauge
    std::atomic<std::int64_t> send_buffered_peak_bytes{0};  // the gauge's highest value since start
    void send_buffered(std::int64_t delta) {
        const auto now = send_buffered_bytes.fetch_add(delta, std::memory_order_relaxed) + delta;
        auto peak = send_buffered_peak_bytes.load(std::memory_order_relaxed);
        while (now > peak && !send_buffered_peak_bytes.compare_exchange_weak(peak, now)) {
        }
    }

    // Why, for the refusals an operator has to tell apart (filled from audit events by observe()).
    LabeledCounter connections_refused_by_reason;  // ratelimit reason
    LabeledCounter tls_failures_by_reason;         // tls_timeout, not_tls13, alpn_mismatch, ...
    LabeledCounter tokens_rejected_by_reason;      // auth error name: expired, bad_signature, ...
    LabeledCounter streams_refused_by_reason;      // forbidden, rate_limited, replayed, too_many_streams, ...
    LabeledCounter content_fetches_by_result;      // ok, corrupt (served file changed), failed, aborted
    DurationHistogram handshake_duration{kHandshakeBucketsS};  // TCP accept to HELLO accepted
    DurationHistogram fetch_duration{kFetchBucketsS};          // content.fetch served, open to end
    DurationHistogram session_rtt{kRttBucketsS};  // each authenticated session's smoothed RTT, at its end

    // Fleet mode (docs/fleet.md): the shared replay and rate-limit checks through Redis; zero without it.
    std::atomic<std::uint64_t> fleet_checks{0};           // HELLO, REAUTH and OPEN checks sent to Redis
    std::atomic<std::uint64_t> fleet_redis_errors{0};     // of those: no answer in time, or an error reply
    std::atomic<std::uint64_t> fleet_unavailable{0};      // requests refused for it (policy refuse)
    std::atomic<std::uint64_t> fleet_fallbacks{0};        // requests decided locally instead (policy local)
    std::atomic<std::int64_t> fleet_redis_up{0};          // gauge: 1 while connected
    DurationHistogram fleet_redis_latency{kRttBucketsS};  // call to reply, answered checks only
    // The connection limits before TLS the fleet shares (impl/connection_leases.hpp).
    std::atomic<std::uint64_t> fleet_connection_checks{0};     // new connections sent to Redis (one script)
    std::atomic<std::uint64_t> fleet_connections_refused{0};   // closed before TLS: fleet rate, cap, or Redis
                                                               // down (policy refuse)
    std::atomic<std::uint64_t> fleet_connection_fallbacks{0};  // admitted on the local limits (policy local)
    std::atomic<std::uint64_t> fleet_lease_renewals{0};        // renewal calls (one per interval, all leases)
    std::atomic<std::uint64_t> fleet_lease_renewal_errors{0};  // of those, failed or not answered in time

    /// Counts what an audit event says (called for every event, with or without an audit sink).
    void observe(const AuditEvent& event);

    /// Prometheus text exposition format 0.0.4, every name prefixed `cyxp2p_node_`.
    std::string prometheus() const;
};

/// The node's key set for /metrics (cyxp2p_node_keys_*): keys in force, when they were loaded and how old
/// they are at `now_s` (wall seconds), loads by result, whether the last attempt failed. An operator alerts
/// on the age passing a few refresh intervals (docs/operations.md "Key rotation").
std::string keys_prometheus(const auth::KeySourceStatus& status, std::int64_t now_s);

/// Counters an engine keeps across its connections.
struct EngineMetrics {
    std::atomic<std::uint64_t> connects_ok{0};
    std::atomic<std::uint64_t> connects_failed{0};
    std::atomic<std::uint64_t> pin_mismatches{0};
    std::atomic<std::uint64_t> tokens_rejected{0};
    std::atomic<std::uint64_t> blocks_verified{0};
    std::atomic<std::uint64_t> blocks_failed{0};
    std::atomic<std::uint64_t> bytes_verified{0};
    DurationHistogram connect_duration{kHandshakeBucketsS};  // TCP + TLS + HELLO, successful connects
    DurationHistogram fetch_duration{kFetchBucketsS};        // content.fetch, request to file in place

    /// Prometheus text exposition format 0.0.4, every name prefixed `cyxp2p_engine_`.
    std::string prometheus() const;
};

}  // namespace cyxp2p::net
