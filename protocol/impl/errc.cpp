#include <string>

#include <cyxp2p/protocol/errc.hpp>

namespace cyxp2p::protocol {
namespace {

struct Entry {
    errc code;
    const char* name;
    const char* message;
};

constexpr Entry kEntries[] = {
    {errc::frame_too_large, "frame_too_large", "peer sent a frame larger than the negotiated maximum"},
    {errc::bad_version, "bad_version", "frame header carries an unknown protocol version"},
    {errc::bad_frame, "bad_frame", "malformed frame (header, flags or payload)"},
    {errc::unknown_critical_frame, "unknown_critical_frame",
     "peer sent a critical frame type this version does not know"},
    {errc::protocol_violation, "protocol_violation", "frame not allowed in this state or on this stream"},
    {errc::flow_control, "flow_control", "peer sent more data than its flow-control window allows"},
    {errc::too_many_streams, "too_many_streams", "peer opened more concurrent streams than negotiated"},
    {errc::message_too_large, "message_too_large", "message larger than the negotiated maximum"},
    {errc::bad_message, "bad_message", "message body does not decode within limits"},
    {errc::hello_timeout, "hello_timeout", "no HELLO before the handshake deadline"},
    {errc::token_rejected, "token_rejected", "P2P token rejected: mint a new one for this node"},
    {errc::replayed, "replayed", "nonce reused or timestamp outside the replay window: check the clock"},
    {errc::rate_limited, "rate_limited", "rate limit reached: retry after the given delay"},
    {errc::token_expired, "token_expired", "session token expired: send REAUTH with a fresh token"},
    {errc::unsupported_version, "unsupported_version", "no common protocol version"},
    {errc::wrong_node, "wrong_node", "token was issued for another node"},
    {errc::unavailable, "unavailable",
     "the node cannot check this request now (its shared replay/limit store is unreachable): retry later"},
    {errc::unknown_method, "unknown_method", "no handler registered for this method"},
    {errc::forbidden, "forbidden", "token lacks the scope this method requires"},
    {errc::stream_reset, "stream_reset", "stream reset by the peer"},
    {errc::cancelled, "cancelled", "stream cancelled"},
    {errc::handler_failed, "handler_failed", "the node's handler failed"},
    {errc::byte_limit, "byte_limit", "byte budget of the session or stream spent"},
    {errc::stalled, "stalled", "stream stalled: the peer sent below the minimum rate (min_stream_rate)"},
    {errc::going_away, "going_away", "peer is shutting down: reconnect later"},
    {errc::idle_timeout, "idle_timeout", "session idle for too long"},
    {errc::ping_timeout, "ping_timeout", "peer did not answer PING in time"},
    {errc::closed, "closed", "session closed"},
    {errc::content_mismatch, "content_mismatch", "content did not hash to its CID"},
    {errc::content_not_found, "content_not_found", "node does not have this content"},
    {errc::internal, "internal", "internal error"},
};

const Entry* find(errc e) {
    for (const auto& entry : kEntries) {
        if (entry.code == e) return &entry;
    }
    return nullptr;
}

class Category final : public std::error_category {
  public:
    const char* name() const noexcept override { return "cyxp2p.protocol"; }
    std::string message(int ev) const override {
        const Entry* e = find(static_cast<errc>(ev));
        return e != nullptr ? e->message : "unknown protocol error";
    }
};

}  // namespace

const std::error_category& category() noexcept {
    static const Category instance;
    return instance;
}

const char* to_string(errc e) noexcept {
    const Entry* entry = find(e);
    return entry != nullptr ? entry->name : "unknown";
}

errc from_wire(std::uint32_t value) noexcept {
    const auto e = static_cast<errc>(value);
    return find(e) != nullptr ? e : errc::internal;
}

}  // namespace cyxp2p::protocol
