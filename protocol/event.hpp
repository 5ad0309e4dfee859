// What a session reports to its owner through poll_event().
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <cyxp2p/auth/claims.hpp>
#include <cyxp2p/protocol/admission.hpp>
#include <cyxp2p/protocol/limits.hpp>

namespace cyxp2p::protocol {

/// What the engine learns from HELLO_ACK.
struct HandshakeInfo {
    std::string node_id;
    std::string session_id;
    std::int64_t token_expiry = 0;  // Unix seconds
    std::string node_version;
    SessionLimits peer_limits;  // the node's receive limits (frame, message, streams, windows)
    /// The node answers each OPEN it accepts with OPEN_ACK (HELLO_ACK.open_ack). When false (an older node)
    /// the engine reports an OPEN as accepted as soon as it is sent.
    bool open_ack = false;
};

/// What a session's flow control knows now (metrics, p2p-probe, tests); docs/protocol.md section 6.
struct FlowStats {
    std::optional<std::chrono::nanoseconds>
        smoothed_rtt;  // RFC 6298 SRTT from PING/PONG; none before a sample
    std::optional<std::chrono::nanoseconds> min_rtt;
    std::uint64_t rtt_samples = 0;
    std::uint64_t session_window = 0;         // our session receive window now
    std::uint64_t largest_stream_window = 0;  // the largest receive window a stream of ours reached
    std::uint64_t growth_refused = 0;         // window growth the WindowBudget refused
    std::uint64_t delay_cuts =
        0;  // times a bulk stream's credit was cut to SessionLimits::queue_delay_target
    std::uint64_t queued_bytes = 0;  // to send, not yet taken by poll_output: control frames, stream messages
    /// From the opening of the first stream whose receive window reached max_stream_window to that moment
    /// (the ramp bench/run row (h) reports in RTTs); none while no stream has reached the cap.
    std::optional<std::chrono::nanoseconds> window_ramp;
};

struct Event {
    enum class Kind {
        authenticated,    // node: HELLO accepted; `claims` holds the token's claims
        ready,            // engine: HELLO_ACK received; `handshake` holds what the node said
        rejected,         // engine: the node refused HELLO; `error`, `detail` (auth reason), `retry_after`
        stream_opened,    // node: the engine opened `stream_id` for `method` (scope, replay, rate checked)
        stream_refused,   // node: an OPEN for `method` was refused (`error`: forbidden, rate_limited, ...)
        message,          // a whole message (`body`) arrived on `stream_id`
        stream_end,       // the peer finished sending on `stream_id`
        stream_accepted,  // engine: OPEN_ACK for `stream_id` (at once from a node not announcing it)
        stream_reset,     // `stream_id` was reset (by the peer or locally): `error`, `message`, `detail`
        stream_closed,    // both directions of `stream_id` finished; its id will not be reported again
        reauthenticated,  // node: REAUTH accepted (`claims`); engine: REAUTH_ACK (`handshake.token_expiry`)
        going_away,       // the peer sent GOAWAY: open no new streams; `error`
        pong,             // the answer to our PING arrived
        closed,           // the session is over; `error` says why (empty: orderly close)
        /// node, with NodeServices::deferred_admission: a HELLO, REAUTH or OPEN waits for its replay and
        /// rate-limit verdict (`admission`); the session reads no further frame until NodeSession::admit().
        admission,
    };
    Kind kind = Kind::closed;
    std::uint32_t stream_id = 0;
    std::string method{};
    std::vector<std::uint8_t> body{};
    std::error_code error{};
    std::string detail{};
    std::chrono::milliseconds retry_after{0};
    /// stream_reset: the reason for a person (the ERROR's message); `detail` then holds only its detail.
    std::string message{};
    std::optional<auth::Claims> claims{};
    HandshakeInfo handshake{};
    std::optional<AdmissionRequest> admission{};
    /// message: from a stream under defer_consumption; its credit returns only when the application reports
    /// it consumed (EngineSession::consumed), which it must do for every such message, kept or dropped.
    bool deferred = false;
    /// stream_reset: this side reset the stream (reset(), or a local check such as the stall rule or
    /// message_too_large); false: the peer's ERROR.
    bool local = false;
};

const char* to_string(Event::Kind k) noexcept;

}  // namespace cyxp2p::protocol
