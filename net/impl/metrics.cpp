#include <cyxp2p/net/metrics.hpp>

namespace cyxp2p::net {

std::string Metrics::prometheus() const {
    std::string out;
    auto row = [&](const char* name, const char* type, const char* help, const auto& value) {
        out += "# HELP cyxp2p_node_";
        out += name;
        out += ' ';
        out += help;
        out += "\n# TYPE cyxp2p_node_";
        out += name;
        out += ' ';
        out += type;
        out += "\ncyxp2p_node_";
        out += name;
        out += ' ';
        out += std::to_string(value.load(std::memory_order_relaxed));
        out += '\n';
    };
    row("connections_accepted_total", "counter", "TCP connections admitted by the limiter.",
        connections_accepted);
    row("connections_refused_total", "counter", "TCP connections refused by the limiter.",
        connections_refused);
    row("connections_open", "gauge", "Connections currently open.", connections_open);
    row("connections_evicted_total", "counter",
        "Pre-auth connections closed because a newer one took their handshake slot (table full).",
        connections_evicted);
    row("handshakes_in_progress", "gauge", "Connections admitted and not yet authenticated (pre-auth).",
        handshakes_in_progress);
    row("client_hello_timeouts_total", "counter",
        "Connections closed for sending nothing before the deadline.", client_hello_timeouts);
    row("audit_events_suppressed_total", "counter",
        "Audit events of unauthenticated connections left out by sampling.", audit_events_suppressed);
    row("tls_failures_total", "counter", "TLS handshakes that failed or timed out.", tls_failures);
    row("handshakes_ok_total", "counter", "HELLOs accepted.", handshakes_ok);
    row("handshakes_failed_total", "counter", "Sessions closed before HELLO_ACK.", handshakes_failed);
    row("tokens_rejected_total", "counter", "Tokens refused in HELLO or REAUTH.", tokens_rejected);
    row("replays_rejected_total", "counter", "Nonces or timestamps refused.", replays_rejected);
    row("rate_limited_total", "counter", "Stream opens refused by a rate limit.", rate_limited);
    row("streams_opened_total", "counter", "Streams accepted.", streams_opened);
    row("streams_refused_total", "counter", "Streams refused (scope, method, limits).", streams_refused);
    row("bytes_in_total", "counter", "TLS plaintext bytes received.", bytes_in);
    row("bytes_out_total", "counter", "TLS plaintext bytes sent.", bytes_out);
    row("content_blocks_served_total", "counter", "Content blocks sent.", content_blocks_served);
    row("content_bytes_served_total", "counter", "Content block bytes sent.", content_bytes_served);
    return out;
}

std::string EngineMetrics::prometheus() const {
    std::string out;
    auto row = [&](const char* name, const char* help, const std::atomic<std::uint64_t>& value) {
        out += std::string("# HELP cyxp2p_engine_") + name + " " + help + "\n# TYPE cyxp2p_engine_" + name +
               " counter\ncyxp2p_engine_" + name + " " +
               std::to_string(value.load(std::memory_order_relaxed)) + "\n";
    };
    row("connects_ok_total", "Sessions established.", connects_ok);
    row("connects_failed_total", "Connection attempts that failed (any phase).", connects_failed);
    row("pin_mismatches_total", "Nodes that presented an unpinned key.", pin_mismatches);
    row("tokens_rejected_total", "HELLOs the node refused.", tokens_rejected);
    row("blocks_verified_total", "Content blocks verified against their CID.", blocks_verified);
    row("blocks_failed_total", "Content blocks that failed verification.", blocks_failed);
    row("bytes_verified_total", "File bytes verified and written.", bytes_verified);
    return out;
}

}  // namespace cyxp2p::net
