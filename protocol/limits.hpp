// Every limit of a session and its default (docs/protocol.md, "Limits"). A side announces its receive
// limits in HELLO / HELLO_ACK; each side enforces its own and respects the peer's.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include <cyxp2p/protocol/body.hpp>

namespace cyxp2p::protocol {

/// Longest text a peer may put in a control-frame field, in bytes of UTF-8 without control characters
/// (docs/protocol.md, "Limits"). Over-long or unclean text in HELLO, HELLO_ACK or OPEN is bad_message; in
/// the diagnostics of ERROR and GOAWAY it is dropped from the event (a diagnostic is never worth a close).
struct TextLimits {
    std::size_t method = 128;          // OPEN: the method name
    std::size_t version = 128;         // HELLO engine_version, HELLO_ACK node_version
    std::size_t node_id = 64;          // HELLO_ACK node_id
    std::size_t session_id = 256;      // HELLO_ACK session_id
    std::size_t error_message = 1024;  // ERROR and GOAWAY message
    std::size_t error_detail = 128;    // ERROR detail
    /// ERROR retry_after_ms above this is reported as this: a peer cannot make us wait for years.
    std::chrono::milliseconds max_retry_after{86'400'000};
};

struct SessionLimits {
    std::uint32_t max_frame_size = 64U << 10;          // payload bytes of one frame we accept
    std::uint32_t max_message_size = 4U << 20;         // one message inside a stream (a 2 MiB block fits)
    std::uint32_t max_concurrent_streams = 64;         // streams open at once
    std::uint32_t initial_stream_window = 256U << 10;  // credit per stream
    std::uint32_t initial_session_window = 1U << 20;   // credit for all streams together
    std::uint64_t max_session_bytes = 64ULL << 30;  // DATA bytes received in one session (exfiltration cap)
    /// Bytes of incomplete messages held across all streams of a session. Messages may be larger than a
    /// stream window (a 2 MiB block), so their partial bytes cannot be held back by flow control; this
    /// budget bounds them instead: above it, the stream that would exceed it is reset (message_too_large).
    std::uint64_t max_reassembly_bytes = 8ULL << 20;
    std::chrono::milliseconds hello_timeout{10'000};      // node: HELLO must arrive within this of accept
    std::chrono::milliseconds handshake_timeout{15'000};  // engine: HELLO_ACK must arrive within this
    std::chrono::milliseconds idle_timeout{300'000};      // no frame at all for this long: close
    std::chrono::milliseconds ping_interval{30'000};      // engine: PING when nothing arrived for this long
    std::chrono::milliseconds ping_timeout{15'000};       // PONG must arrive within this
    std::chrono::milliseconds drain_timeout{10'000};  // after GOAWAY: open streams get this long to finish
    BodyLimits body{};
    TextLimits text{};
    /// Not announced: bytes a producing stream queues before it waits for the peer to take them
    /// (content.fetch and other ServerStream producers in net::Node, net::ClientStream::async_send), so a
    /// large transfer never sits in memory.
    std::size_t producer_high_water = 1U << 20;
    /// Not announced: capacity of message buffers handed back by the application (EngineSession::recycle)
    /// that a session keeps to reassemble the next messages in. 4 MiB: sixteen 256 KiB blocks, what a
    /// content fetch has in flight between the socket and the disk writer at the initial window and more.
    std::size_t message_pool_bytes = 4U << 20;
    // Flow control for long fat pipes (docs/protocol.md section 6). Receive windows start at the initial
    // sizes above and grow by auto-tuning on application consumption up to these caps; a peer is never asked
    // to do anything new, it only follows the credit it is given.
    /// Largest receive window of one stream: one stream must fill a 100 ms, 1 Gbit/s path (BDP 12.5 MB).
    std::uint32_t max_stream_window = 16U << 20;
    /// Largest receive window of the session. Auto-tuning keeps it >= 1.5x the largest stream window (the
    /// quic-go connection rule) so one bulk stream cannot take all the session's credit.
    std::uint32_t max_session_window = 32U << 20;
    /// While DATA or WINDOW_UPDATE frames flow, PING for a fresh RTT sample at most this often (the
    /// auto-tuning rule needs the smoothed RTT; a quiet session sends only keepalive PINGs).
    std::chrono::milliseconds rtt_ping_interval{1'000};
    /// Not announced: the queueing delay one of our grown (bulk) stream windows may add on the path
    /// (docs/protocol.md section 6, "Delay-limited credit"). When non-zero, once an RTT sample exceeds the
    /// session's minimum RTT by more than this, such a stream is given credit only for what the path holds
    /// at that delay, so a bulk transfer does not park megabytes in a router's (or an emulator's) queue in
    /// front of the small requests sharing the link; RTT samples are then taken every SRTT while data flows
    /// (at least 5 ms, at most rtt_ping_interval apart). 0 (the default) turns it off: windows then fill
    /// whatever queue the path has, up to max_stream_window. Off by default because every delay that is not
    /// queueing (a busy CPU at either end, a jittery radio link) reads as queue and costs throughput: on a
    /// loaded 2-core machine 5 ms kept a 1 KiB request within ~4 ms of the idle round trip but cut the bulk
    /// rate by 40-75% (docs/performance.md, "Delay-limited credit"). p2p-probe bench --queue-delay-ms tries
    /// it.
    std::chrono::milliseconds queue_delay_target{0};
    /// Stall rule for streams the application watches (EngineSession::watch_progress, used by the engine's
    /// content fetch): a stream that received fewer than min_stream_rate bytes/s over one stall_window,
    /// while we were not the ones holding it back, is reset with `stalled`. 30 s at 16 KiB/s: a drip-feeding
    /// node is dropped, a slow but honest link (>= 128 kbit/s) is not.
    std::chrono::milliseconds stall_window{30'000};
    std::uint32_t min_stream_rate = 16U << 10;
};

/// Nanoseconds: the unit of every time a session takes. Which clock a value belongs to is said by where it
/// sits: a field of Now, or a deadline (next_timeout(), always monotonic).
using Time = std::chrono::nanoseconds;

/// The two clocks every time-taking sans-IO call gets (ARCHITECTURE 2; gRPC, quinn and Envoy keep them apart
/// the same way). Sessions read no clock: the caller samples both and passes them in (docs/protocol.md
/// section 7, "Clocks").
struct Now {
    /// Monotonic (steady_clock: never steps). Drives every deadline (HELLO, handshake, idle, ping, drain,
    /// stall), RTT samples, window auto-tuning and the rate-limit buckets.
    Time mono{};
    /// Unix epoch (system_clock: NTP may step it). Only calendar facts: token iat/exp/nbf and the
    /// timestamps of HELLO, OPEN and REAUTH that the replay window checks.
    Time wall{};
};

/// `d` later (or earlier) on both clocks: time passing, not a step of the wall clock.
constexpr Now operator+(Now n, Time d) {
    return {.mono = n.mono + d, .wall = n.wall + d};
}
constexpr Now operator-(Now n, Time d) {
    return {.mono = n.mono - d, .wall = n.wall - d};
}
constexpr Now& operator+=(Now& n, Time d) {
    n.mono += d;
    n.wall += d;
    return n;
}

}  // namespace cyxp2p::protocol
