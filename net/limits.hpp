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

    // The JWKS URL client (JwksUrlSource, docs/operations.md "Key rotation").
    /// Refresh interval bounds: the response's Cache-Control max-age is clamped to these, so a server can
    /// neither make a node poll it every second nor keep a withdrawn key in force for more than a day.
    std::chrono::seconds keys_min_refresh{60};
    std::chrono::seconds keys_max_refresh{86'400};
    /// Refresh interval when the response has no max-age (what jose's createRemoteJWKSet caches for).
    std::chrono::seconds keys_default_refresh{600};
    /// A token naming an unknown kid triggers at most one refetch per this interval, so tokens with made-up
    /// kids cannot turn the node into a flood against the key server.
    std::chrono::seconds keys_min_refetch{30};
    /// One fetch (resolve, connect, TLS, request, whole response) must finish within this.
    std::chrono::milliseconds keys_fetch_timeout{10'000};
};

}  // namespace cyxp2p::net
