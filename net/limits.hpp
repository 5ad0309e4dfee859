// Every limit and default of the net module, in one place: the deadlines of the shell around the protocol.
// The session's own limits (frames, windows, protocol deadlines, drain) are protocol::SessionLimits.
#pragma once

#include <chrono>
#include <cstddef>

namespace cyxp2p::net {

struct Limits {
    /// Node: a TLS handshake must complete this soon after accept (before HELLO's hello_timeout starts).
    std::chrono::milliseconds tls_handshake_timeout{10'000};
    /// Node and engine: after sending close_notify, wait at most this long for the peer's, so a silent peer
    /// cannot hang a stop.
    std::chrono::milliseconds shutdown_timeout{5'000};
    /// Engine: resolve and TCP connect must complete within this.
    std::chrono::milliseconds connect_timeout{10'000};
    /// Engine: the TLS handshake with the pin check must complete within this.
    std::chrono::milliseconds tls_timeout{10'000};
    /// Engine: TLS sessions kept for resumption, keyed by (node, pin set).
    std::size_t session_cache_size = 256;
    /// Node: threads that read, re-hash and encode content.fetch blocks, so the I/O threads only frame and
    /// encrypt. One keeps up with an I/O thread (SHA-256 at ~2 GB/s with SHA-NI against TLS at ~1.3 GB/s);
    /// more help with many by-copy fetches from a slow disk.
    unsigned content_readers = 1;
    /// Node: bytes of encoded blocks a content.fetch stream reads ahead of its session queue (on top of
    /// SessionLimits::producer_high_water queued), so the next blocks are ready while the current ones are
    /// encrypted. At most one block more per stream: 1 MiB + 1 MiB (the largest block) per fetch.
    std::size_t content_read_ahead = 1U << 20;
};

}  // namespace cyxp2p::net
