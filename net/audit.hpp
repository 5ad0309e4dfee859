// Audit events: the seed's audit table as far as this link sees it. The node reports every security-relevant
// decision to an AuditSink; JsonLinesAuditSink writes them one JSON object per line. Tokens and keys never
// appear in an event: only the claims that identify who and what.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>

namespace cyxp2p::net {

struct AuditEvent {
    enum class Kind {
        connection_refused,  // the connection limiter said no (reason)
        connection_evicted,  // a newer connection took this one's handshake slot; closed (handshake_evicted)
        tls_failed,          // TLS handshake failed or timed out
        handshake,           // HELLO outcome: result "ok" or the reason; sub, session
        token_rejected,      // HELLO or REAUTH with a bad token (reason: auth error name)
        replay_rejected,     // nonce or timestamp refused (reason)
        rate_limited,        // a stream open refused by a rate limit (method, retry_after_ms)
        stream_refused,      // forbidden / unknown_method / too_many_streams (method, reason)
        reauth,              // REAUTH accepted (sub, new expiry)
        content_served,      // a content.fetch finished (cid, bytes, result)
        session_closed,      // bytes_in, bytes_out, duration_ms
        keys_loaded,         // a key set load or fetch (result "ok" or why it was refused; value: keys in
                             // force; detail: the source and, on failure, that the previous set stays)
        fleet_store,         // fleet mode's Redis came up or went down (result "up"/"down", detail: why and
                             // what the node does meanwhile: refuse or local)
        // Engine side.
        pin_mismatch,      // the node's key was not in the pin set (detail: presented and expected pins)
        content_rejected,  // a fetched block failed verification (result: the content error, detail: CID),
                           // or a fetch was stalled (result "stalled", detail: the rate seen)
        source_dropped,    // a multi-source fetch dropped a source (peer: its name; result: the error name;
                           // detail: the reason, e.g. the unit whose block did not hash). Never a token.
        // Node side (appended: the kinds keep their numbers).
        handler_exception,  // a method handler threw: its stream was reset with internal (method; result:
                            // the callback, e.g. "on_message"; detail: the exception's what()). Others go on.
    };
    Kind kind = Kind::session_closed;
    std::int64_t time_ms = 0;  // Unix epoch milliseconds
    std::string peer{};        // "address:port"
    std::string node_id{};
    std::string subject{};  // token sub, once known
    std::string session_id{};
    std::string method{};
    std::string result{};          // "ok" or an error name
    std::string detail{};          // free text for a person
    std::int64_t value = 0;        // retry_after_ms, expiry, bytes served: per kind
    std::uint64_t bytes_in = 0;    // session_closed
    std::uint64_t bytes_out = 0;   // session_closed
    std::int64_t duration_ms = 0;  // session_closed
    /// Events of this kind from unauthenticated connections left out since the previous one was recorded
    /// (the node samples them: ratelimit::Limits::preauth_audit), so a flood cannot flood the log.
    std::uint64_t suppressed = 0;
};

const char* to_string(AuditEvent::Kind k) noexcept;

/// Receives audit events. Called from the node's I/O threads: implementations must be thread-safe and must
/// not block for long.
class AuditSink {
  public:
    virtual ~AuditSink() = default;
    virtual void record(const AuditEvent& event) = 0;
};

/// One JSON object per line, appended to a file (created 0600) and flushed per event.
class JsonLinesAuditSink final : public AuditSink {
  public:
    static std::unique_ptr<JsonLinesAuditSink> open(const std::filesystem::path& path, std::error_code& ec);
    ~JsonLinesAuditSink() override;
    void record(const AuditEvent& event) override;

  private:
    explicit JsonLinesAuditSink(std::FILE* f) : file_(f) {}
    std::mutex mutex_;
    std::FILE* file_;
};

/// Renders one event as a JSON object (no trailing newline).
std::string to_json(const AuditEvent& event);

}  // namespace cyxp2p::net
