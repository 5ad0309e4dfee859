// Error codes of the wire protocol. The numeric values travel in ERROR and GOAWAY frames
// (docs/protocol.md, "Error codes"): never renumber, only append.
#pragma once

#include <cstdint>
#include <system_error>

namespace cyxp2p::protocol {

enum class errc : std::uint32_t {
    // Framing (connection errors: the session sends ERROR on stream 0 and closes).
    frame_too_large = 1,
    bad_version,
    bad_frame,  // malformed header or payload of a known frame type
    unknown_critical_frame,
    protocol_violation,  // a valid frame at the wrong time or on the wrong stream
    flow_control,        // the peer sent beyond its window
    too_many_streams,
    message_too_large,
    bad_message,  // a protobuf or msgpack body that does not decode within limits
    // Handshake and authentication.
    hello_timeout = 20,
    token_rejected,  // detail: the auth error name in the message
    replayed,        // nonce already seen, or timestamp outside the window
    rate_limited,
    token_expired,  // the session's token expired without REAUTH
    unsupported_version,
    wrong_node,
    unavailable,  // a store the node's checks depend on (fleet mode: Redis) did not answer: retry_after
    // Streams.
    unknown_method = 40,
    forbidden,     // the token lacks the method's scope
    stream_reset,  // the peer reset the stream
    cancelled,
    handler_failed,
    byte_limit,  // per-session or per-stream byte budget spent
    stalled,     // a watched stream received less than the minimum rate over the stall window
    // Shutdown and liveness.
    going_away = 60,
    idle_timeout,
    ping_timeout,
    closed,
    // Content.
    content_mismatch = 80,
    content_not_found,
    internal = 99,
};

const std::error_category& category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), category()};
}
const char* to_string(errc e) noexcept;
/// Maps a wire value to an errc; unknown values become `internal` (a newer peer's code).
errc from_wire(std::uint32_t value) noexcept;

}  // namespace cyxp2p::protocol

template <>
struct std::is_error_code_enum<cyxp2p::protocol::errc> : std::true_type {};
