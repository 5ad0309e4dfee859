#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cyxp2p/net/audit.hpp>

namespace cyxp2p::net {

const char* to_string(AuditEvent::Kind k) noexcept {
    switch (k) {
        case AuditEvent::Kind::connection_refused:
            return "connection_refused";
        case AuditEvent::Kind::connection_evicted:
            return "connection_evicted";
        case AuditEvent::Kind::tls_failed:
            return "tls_failed";
        case AuditEvent::Kind::handshake:
            return "handshake";
        case AuditEvent::Kind::token_rejected:
            return "token_rejected";
        case AuditEvent::Kind::replay_rejected:
            return "replay_rejected";
        case AuditEvent::Kind::rate_limited:
            return "rate_limited";
        case AuditEvent::Kind::stream_refused:
            return "stream_refused";
        case AuditEvent::Kind::reauth:
            return "reauth";
        case AuditEvent::Kind::content_served:
            return "content_served";
        case AuditEvent::Kind::session_closed:
            return "session_closed";
        case AuditEvent::Kind::keys_loaded:
            return "keys_loaded";
        case AuditEvent::Kind::fleet_store:
            return "fleet_store";
        case AuditEvent::Kind::pin_mismatch:
            return "pin_mismatch";
        case AuditEvent::Kind::content_rejected:
            return "content_rejected";
        case AuditEvent::Kind::source_dropped:
            return "source_dropped";
        case AuditEvent::Kind::handler_exception:
            return "handler_exception";
    }
    return "unknown";
}

std::string to_json(const AuditEvent& e) {
    nlohmann::json j{{"event", to_string(e.kind)}, {"time_ms", e.time_ms}, {"peer", e.peer}};
    auto put = [&](const char* k, const std::string& v) {
        if (!v.empty()) j[k] = v;
    };
    put("node_id", e.node_id);
    put("sub", e.subject);
    put("session_id", e.session_id);
    put("method", e.method);
    put("result", e.result);
    put("detail", e.detail);
    if (e.value != 0) j["value"] = e.value;
    if (e.suppressed != 0) j["suppressed"] = e.suppressed;
    if (e.kind == AuditEvent::Kind::session_closed) {
        j["bytes_in"] = e.bytes_in;
        j["bytes_out"] = e.bytes_out;
        j["duration_ms"] = e.duration_ms;
    }
    // Peer-supplied strings may hold anything; replace invalid UTF-8 rather than failing the audit.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::unique_ptr<JsonLinesAuditSink> JsonLinesAuditSink::open(const std::filesystem::path& path,
                                                             std::error_code& ec) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        ec = std::error_code(errno, std::generic_category());
        return nullptr;
    }
    std::FILE* f = ::fdopen(fd, "a");
    if (f == nullptr) {
        ec = std::error_code(errno, std::generic_category());
        ::close(fd);
        return nullptr;
    }
    return std::unique_ptr<JsonLinesAuditSink>(new JsonLinesAuditSink(f));
}

JsonLinesAuditSink::~JsonLinesAuditSink() {
    std::fclose(file_);
}

void JsonLinesAuditSink::record(const AuditEvent& event) {
    const std::string line = to_json(event) + "\n";
    std::lock_guard lock(mutex_);
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
}

}  // namespace cyxp2p::net
