// Counters a node keeps, readable from any thread, rendered in the Prometheus text format for /metrics.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace cyxp2p::net {

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
    std::atomic<std::uint64_t> bytes_in{0};
    std::atomic<std::uint64_t> bytes_out{0};
    std::atomic<std::uint64_t> content_blocks_served{0};
    std::atomic<std::uint64_t> content_bytes_served{0};

    /// Prometheus text exposition format 0.0.4, every counter prefixed `cyxp2p_node_`.
    std::string prometheus() const;
};

/// Counters an engine keeps across its connections.
struct EngineMetrics {
    std::atomic<std::uint64_t> connects_ok{0};
    std::atomic<std::uint64_t> connects_failed{0};
    std::atomic<std::uint64_t> pin_mismatches{0};
    std::atomic<std::uint64_t> tokens_rejected{0};
    std::atomic<std::uint64_t> blocks_verified{0};
    std::atomic<std::uint64_t> blocks_failed{0};
    std::atomic<std::uint64_t> bytes_verified{0};

    /// Prometheus text exposition format 0.0.4, every counter prefixed `cyxp2p_engine_`.
    std::string prometheus() const;
};

}  // namespace cyxp2p::net
