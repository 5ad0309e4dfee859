#include <algorithm>
#include <cstdio>

#include <cyxp2p/net/metrics.hpp>

namespace cyxp2p::net {
namespace {

bool plain_label(std::string_view v) {
    if (v.empty() || v.size() > 64) return false;
    for (char c : v) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name);
    out.append(" ").append(type).append("\n");
}

template <class T>
void row(std::string& out, std::string_view name, std::string_view type, std::string_view help,
         const std::atomic<T>& value) {
    header(out, name, type, help);
    out.append(name).append(" ").append(std::to_string(value.load(std::memory_order_relaxed))).append("\n");
}

void labeled(std::string& out, std::string_view name, std::string_view label, std::string_view help,
             const LabeledCounter& c) {
    header(out, name, "counter", help);
    for (const auto& [value, n] : c.snapshot()) {
        out.append(name).append("{").append(label).append("=\"").append(value).append("\"} ");
        out.append(std::to_string(n)).append("\n");
    }
}

std::string seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", s);
    return buf;
}

}  // namespace

void LabeledCounter::add(std::string_view value, std::uint64_t n) {
    std::lock_guard lock(mutex_);
    auto it = values_.find(value);
    if (it == values_.end()) {
        const bool room =
            values_.size() < kMaxValues - 1 || (values_.size() < kMaxValues && value == "other");
        it = plain_label(value) && room ? values_.emplace(std::string(value), 0).first
                                        : values_.try_emplace("other", 0).first;
    }
    it->second += n;
}

std::uint64_t LabeledCounter::get(std::string_view value) const {
    std::lock_guard lock(mutex_);
    auto it = values_.find(value);
    return it == values_.end() ? 0 : it->second;
}

std::uint64_t LabeledCounter::total() const {
    std::lock_guard lock(mutex_);
    std::uint64_t t = 0;
    for (const auto& [v, n] : values_) t += n;
    return t;
}

std::vector<std::pair<std::string, std::uint64_t>> LabeledCounter::snapshot() const {
    std::lock_guard lock(mutex_);
    return {values_.begin(), values_.end()};
}

DurationHistogram::DurationHistogram(std::span<const double> upper_bounds_s)
    : bounds_(upper_bounds_s.begin(), upper_bounds_s.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                                   upper_bounds_s.size(), kMaxBuckets))) {}

void DurationHistogram::observe(std::chrono::nanoseconds d) {
    if (d.count() < 0) d = std::chrono::nanoseconds(0);
    const double s = std::chrono::duration<double>(d).count();
    std::size_t i = 0;
    while (i < bounds_.size() && s > bounds_[i]) ++i;
    if (i < bounds_.size()) buckets_[i].fetch_add(1, std::memory_order_relaxed);  // else only +Inf
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<std::uint64_t>(d.count()), std::memory_order_relaxed);
}

void DurationHistogram::render(std::string& out, std::string_view name, std::string_view help) const {
    header(out, name, "histogram", help);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
        cumulative += buckets_[i].load(std::memory_order_relaxed);
        out.append(name).append("_bucket{le=\"").append(seconds(bounds_[i])).append("\"} ");
        out.append(std::to_string(cumulative)).append("\n");
    }
    const auto n = count_.load(std::memory_order_relaxed);
    out.append(name).append("_bucket{le=\"+Inf\"} ").append(std::to_string(n)).append("\n");
    out.append(name).append("_sum ").append(seconds(static_cast<double>(sum_ns_.load()) / 1e9)).append("\n");
    out.append(name).append("_count ").append(std::to_string(n)).append("\n");
}

void Metrics::observe(const AuditEvent& e) {
    using K = AuditEvent::Kind;
    switch (e.kind) {
        case K::connection_refused:
            connections_refused_by_reason.add(e.result);
            break;
        case K::tls_failed:
            tls_failures_by_reason.add(e.result);
            break;
        case K::token_rejected:
            tokens_rejected_by_reason.add(e.result);
            break;
        case K::stream_refused:
        case K::rate_limited:
        case K::replay_rejected:
            // A replayed HELLO is a handshake failure, not a stream refusal: only count stream-level ones.
            if (!e.method.empty()) streams_refused_by_reason.add(e.result);
            break;
        case K::content_served:
            content_fetches_by_result.add(e.result);
            break;
        case K::handler_exception:
            handler_exceptions++;
            break;
        default:
            break;
    }
}

std::string Metrics::prometheus() const {
    std::string out;
    row(out, "cyxp2p_node_connections_accepted_total", "counter", "TCP connections admitted by the limiter.",
        connections_accepted);
    labeled(out, "cyxp2p_node_connections_refused_total", "reason",
            "TCP connections refused by the limiter, by reason.", connections_refused_by_reason);
    row(out, "cyxp2p_node_connections_open", "gauge", "Connections currently open.", connections_open);
    row(out, "cyxp2p_node_connections_evicted_total", "counter",
        "Pre-auth connections closed because a newer one took their handshake slot (table full).",
        connections_evicted);
    row(out, "cyxp2p_node_handshakes_in_progress", "gauge",
        "Connections admitted and not yet authenticated (pre-auth).", handshakes_in_progress);
    row(out, "cyxp2p_node_client_hello_timeouts_total", "counter",
        "Connections closed for sending no ClientHello before the deadline.", client_hello_timeouts);
    row(out, "cyxp2p_node_audit_events_suppressed_total", "counter",
        "Audit events of unauthenticated connections left out by sampling.", audit_events_suppressed);
    labeled(out, "cyxp2p_node_tls_failures_total", "reason",
            "TLS handshakes that failed or timed out, by reason.", tls_failures_by_reason);
    row(out, "cyxp2p_node_handshakes_ok_total", "counter", "HELLOs accepted.", handshakes_ok);
    row(out, "cyxp2p_node_handshakes_failed_total", "counter", "Sessions closed before HELLO_ACK.",
        handshakes_failed);
    labeled(out, "cyxp2p_node_tokens_rejected_total", "reason",
            "Tokens refused in HELLO or REAUTH, by reason (the auth error name).", tokens_rejected_by_reason);
    row(out, "cyxp2p_node_replays_rejected_total", "counter", "Nonces or timestamps refused.",
        replays_rejected);
    row(out, "cyxp2p_node_rate_limited_total", "counter", "Stream opens refused by a rate limit.",
        rate_limited);
    row(out, "cyxp2p_node_streams_opened_total", "counter", "Streams accepted.", streams_opened);
    labeled(out, "cyxp2p_node_streams_refused_total", "reason",
            "Streams refused, by reason (forbidden, rate_limited, replayed, too_many_streams, ...).",
            streams_refused_by_reason);
    row(out, "cyxp2p_node_handler_exceptions_total", "counter",
        "Method handler calls that threw (each reset only its own stream, with internal).",
        handler_exceptions);
    row(out, "cyxp2p_node_received_bytes_total", "counter", "TLS plaintext bytes received.", bytes_in);
    row(out, "cyxp2p_node_sent_bytes_total", "counter", "TLS plaintext bytes sent.", bytes_out);
    row(out, "cyxp2p_node_content_served_blocks_total", "counter", "Content blocks sent.",
        content_blocks_served);
    row(out, "cyxp2p_node_content_served_bytes_total", "counter", "Content block bytes sent.",
        content_bytes_served);
    row(out, "cyxp2p_node_send_buffered_bytes", "gauge",
        "Bytes held for peers and not yet handed to TLS (content read ahead, session send queues).",
        send_buffered_bytes);
    row(out, "cyxp2p_node_send_buffered_peak_bytes", "gauge", "The highest send_buffered_bytes since start.",
        send_buffered_peak_bytes);
    labeled(out, "cyxp2p_node_content_fetches_total", "result",
            "content.fetch streams served, by result (ok; corrupt: the served file changed or vanished after "
            "import; aborted: cut off by shutdown; failed).",
            content_fetches_by_result);
    handshake_duration.render(out, "cyxp2p_node_handshake_duration_seconds",
                              "From TCP accept to HELLO accepted (TLS 1.3 + token check).");
    fetch_duration.render(out, "cyxp2p_node_content_fetch_duration_seconds",
                          "content.fetch streams served, from request to the last block queued.");
    session_rtt.render(out, "cyxp2p_node_session_rtt_seconds",
                       "Smoothed RTT (RFC 6298, from PING/PONG) of each authenticated session, at its end.");
    row(out, "cyxp2p_node_fleet_checks_total", "counter",
        "HELLO, REAUTH and OPEN replay/limit checks sent to the fleet's Redis.", fleet_checks);
    row(out, "cyxp2p_node_fleet_redis_errors_total", "counter",
        "Fleet checks Redis did not answer within the call deadline, or answered with an error.",
        fleet_redis_errors);
    row(out, "cyxp2p_node_fleet_unavailable_total", "counter",
        "Requests refused with `unavailable` because Redis did not answer (policy refuse).",
        fleet_unavailable);
    row(out, "cyxp2p_node_fleet_fallbacks_total", "counter",
        "Requests decided by the node's own windows because Redis did not answer (policy local).",
        fleet_fallbacks);
    row(out, "cyxp2p_node_fleet_redis_up", "gauge", "1 while the node is connected to the fleet's Redis.",
        fleet_redis_up);
    fleet_redis_latency.render(out, "cyxp2p_node_fleet_redis_latency_seconds",
                               "Fleet checks, from the call to Redis's reply (answered checks only).");
    row(out, "cyxp2p_node_fleet_connection_checks_total", "counter",
        "New connections checked against the fleet's per-address rate and lease cap (before TLS).",
        fleet_connection_checks);
    row(out, "cyxp2p_node_fleet_connections_refused_total", "counter",
        "New connections closed before TLS by the fleet: address rate, address lease cap, or Redis down "
        "(policy refuse).",
        fleet_connections_refused);
    row(out, "cyxp2p_node_fleet_connection_fallbacks_total", "counter",
        "New connections admitted on the local limits alone because Redis did not answer (policy local).",
        fleet_connection_fallbacks);
    row(out, "cyxp2p_node_fleet_lease_renewals_total", "counter",
        "Connection lease renewal calls (one per interval renews every live connection's lease).",
        fleet_lease_renewals);
    row(out, "cyxp2p_node_fleet_lease_renewal_errors_total", "counter",
        "Lease renewal calls that failed or were not answered in time.", fleet_lease_renewal_errors);
    return out;
}

std::string keys_prometheus(const auth::KeySourceStatus& s, std::int64_t now_s) {
    std::string out;
    auto gauge = [&](std::string_view name, std::string_view help, std::int64_t v) {
        header(out, name, "gauge", help);
        out.append(name).append(" ").append(std::to_string(v)).append("\n");
    };
    gauge("cyxp2p_node_keys", "Token verification keys in force.", static_cast<std::int64_t>(s.keys));
    gauge("cyxp2p_node_keys_loaded_timestamp_seconds", "When the key set in force was loaded (Unix time).",
          s.loaded_at_s);
    gauge("cyxp2p_node_keys_age_seconds", "Seconds since the key set in force was loaded or fetched.",
          s.loaded_at_s == 0 ? 0 : std::max<std::int64_t>(0, now_s - s.loaded_at_s));
    gauge("cyxp2p_node_keys_last_attempt_timestamp_seconds",
          "When the key set was last loaded or fetched, successfully or not (Unix time).",
          s.last_attempt_at_s);
    gauge("cyxp2p_node_keys_last_attempt_failed",
          "1 when the last load or fetch was refused (the previous set stays in force).",
          s.last_error ? 1 : 0);
    header(out, "cyxp2p_node_keys_loads_total", "counter", "Key set loads and fetches, by result.");
    out.append("cyxp2p_node_keys_loads_total{result=\"ok\"} ")
        .append(std::to_string(s.loads_ok))
        .append("\n");
    out.append("cyxp2p_node_keys_loads_total{result=\"failed\"} ")
        .append(std::to_string(s.loads_failed))
        .append("\n");
    return out;
}

std::string EngineMetrics::prometheus() const {
    std::string out;
    auto r = [&](const char* name, const char* help, const std::atomic<std::uint64_t>& value) {
        row(out, std::string("cyxp2p_engine_") + name, "counter", help, value);
    };
    r("connects_ok_total", "Sessions established.", connects_ok);
    r("connects_failed_total", "Connection attempts that failed (any phase).", connects_failed);
    r("pin_mismatches_total", "Nodes that presented an unpinned key.", pin_mismatches);
    r("tokens_rejected_total", "HELLOs the node refused.", tokens_rejected);
    r("verified_blocks_total", "Content blocks verified against their CID.", blocks_verified);
    r("failed_blocks_total", "Content blocks that failed verification.", blocks_failed);
    r("verified_bytes_total", "File bytes verified and written.", bytes_verified);
    connect_duration.render(out, "cyxp2p_engine_connect_duration_seconds",
                            "Successful connects: TCP + TLS 1.3 + HELLO_ACK.");
    fetch_duration.render(out, "cyxp2p_engine_fetch_duration_seconds",
                          "Completed content.fetch: request to the verified file in place.");
    return out;
}

}  // namespace cyxp2p::net
