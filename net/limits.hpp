// Every limit and default of the net module, in one place: the deadlines of the shell around the protocol.
// The session's own limits (frames, windows, protocol deadlines, drain) are protocol::SessionLimits.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

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

/// The Redis client of fleet mode (net/redis.hpp, docs/fleet.md).
struct RedisLimits {
    /// Each call must have its reply this soon after it was made (queueing included), else it fails with
    /// redis_timeout and the connection, whose state is then unknown, is dropped and reopened. 50 ms is far
    /// above a LAN or unix-socket round trip (tens of microseconds) and far below the HELLO deadline, so a
    /// slow Redis costs a refused handshake (retry later), never a hung one.
    std::chrono::milliseconds call_deadline{50};
    /// TCP or unix connect, AUTH and SELECT together must finish within this.
    std::chrono::milliseconds connect_timeout{500};
    /// Reconnect backoff: doubles from min to max after each failed attempt, reset by a success. Also the
    /// retry delay a refused handshake carries while Redis is down.
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{5'000};
    /// Calls waiting for the client thread at most; beyond, a call fails at once (redis_unavailable) rather
    /// than growing memory behind a stuck server.
    std::size_t max_queued = 16'384;
    /// Commands written in one pipeline before their replies are read.
    std::size_t max_pipeline = 512;
    /// A fleet connection lease (docs/fleet.md, "Connection leases") lasts this long unless its process
    /// renews it, which it does for its live connections every lease_ttl / 3. A process that dies stops
    /// renewing, so its connections stop counting against the fleet's per-address cap after at most this.
    /// 30 s: ten times a renewal survives a slow Redis, and a crashed process frees its addresses' budget
    /// within half a minute.
    std::chrono::milliseconds lease_ttl{30'000};
};

/// A multi-source fetch's list of sources (net/fetch_sources.hpp).
struct SourceLimits {
    std::size_t max_text = 64 * 1024;  // bytes of the JSON list: a few hundred sources with inline tokens
    std::size_t max_sources = 32;      // each source is a connection (a node) or a few (a gateway)
    std::size_t max_depth = 4;         // JSON nesting: the list, a source object, no deeper in practice
};

/// The trustless HTTP gateway (net/gateway.hpp, docs/net.md "Gateway"). Public by nature (anyone may ask for
/// content by CID), so every resource a client can hold is capped.
struct GatewayLimits {
    std::size_t max_connections = 256;            // concurrent, all addresses
    std::size_t max_connections_per_address = 8;  // concurrent, one IPv4 address or IPv6 /64
    /// Requests per address: 20/s with bursts of 40 (a client fetching raw blocks one by one on keep-alive
    /// connections; CAR requests cost one token each however large).
    std::uint64_t requests_per_second = 20;
    std::uint64_t request_burst = 40;
    /// A client must send a complete request header this soon after connecting or after its previous
    /// response (slowloris).
    std::chrono::milliseconds request_timeout{10'000};
    /// One write of a response (at most write_chunk bytes) must complete within this: a reader that stops
    /// reading is dropped instead of holding a connection and a walk open forever.
    std::chrono::milliseconds write_timeout{30'000};
    /// CAR responses are sent as HTTP/1.1 chunks of up to this many bytes (one or more blocks each).
    std::size_t write_chunk = 256 * 1024;
    /// Requests served on one keep-alive connection before it is closed.
    std::size_t max_requests_per_connection = 1000;
    /// Threads serving the gateway (file reads and hashing run on them, never on the node's I/O threads).
    std::size_t threads = 2;
};

/// A multi-source fetch through the engine API (net/multi_fetch.hpp, docs/net.md "Multi-source fetch").
struct MultiFetchLimits {
    /// Units one source fetches at once (8 x a 256 KiB leaf = 2 MiB; a subtree unit is one stream).
    std::size_t in_flight = 8;
    /// A source with work and no verified byte for this long is dropped (the session's own stall_window,
    /// protocol::SessionLimits, is 30 s too).
    std::chrono::milliseconds stall{30'000};
    /// An idle source fetches a copy of a unit another source has held this long (the first verified copy
    /// wins). Long enough that healthy sources keep their own units, short against a stall.
    std::chrono::milliseconds hedge{2'000};
    /// A gateway request: resolve + connect, TLS, and each read must each finish within this.
    std::chrono::milliseconds gateway_timeout{10'000};
    /// At the end, the connections the fetch dialled are closed in order (GOAWAY, close_notify, each also
    /// bounded by EngineOptions::shutdown_timeout); the fetch completes at the latest this long after the
    /// close began, whether or not a peer answered.
    std::chrono::milliseconds close_timeout{10'000};
};

}  // namespace cyxp2p::net
