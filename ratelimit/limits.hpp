// Every limit of the ratelimit module and its default, in one place (ARCHITECTURE 6: defaults are the secure
// choice). docs/ratelimit.md explains each one and how to size the tables.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace cyxp2p::ratelimit {

/// A token bucket: `tokens` per `period` sustained, at most `burst` at once. The rate is kept as the exact
/// fraction tokens / period (reduced), so 7 per 3 s means exactly that over any run length.
/// Bounds: period > 0; tokens <= 2^62 and burst x (period / gcd) <= 2^62 after reduction. tokens == 0 is a
/// bucket that never refills; burst == 0 admits nothing but zero-cost requests.
struct Rate {
    std::uint64_t tokens = 10;
    std::chrono::nanoseconds period = std::chrono::seconds(1);
    std::uint64_t burst = 20;
};

/// KeyedLimiter: one Rate per key, in a bounded table.
struct KeyedLimits {
    Rate rate{};
    /// Most keys tracked at once. A key whose bucket has refilled to `burst` is idle and may be evicted
    /// (forgetting it changes nothing); when the table is full and the least recently used key is still
    /// refilling, new keys are refused with errc::table_full. Sizing: >= distinct keys active within one
    /// refill time (burst / rate). About KeyedLimiter::bytes_per_key() bytes each.
    std::size_t max_keys = 65536;
    /// Independently locked shards, a power of two; each holds max_keys / shards keys.
    std::size_t shards = 16;
};

/// Pre-auth deadlines that shrink as the handshake table fills (Envoy's overload manager "reduce_timeouts",
/// the nginx/HAProxy advice to cut handshake timeouts under attack). A deadline the node configures (TLS
/// handshake, HELLO) applies in full while at most `from_percent` of max_handshakes are in use, then falls
/// linearly to `at_full` when all are (see adaptive_deadline()). An honest TLS 1.3 + HELLO takes two round
/// trips (tens of ms even across continents), so 1 s still admits every real engine, while a slowloris that
/// held a slot for 10 s holds it for 1 s: ten times the churn for the same occupancy.
struct AdaptiveDeadline {
    std::size_t from_percent = 25;             // in [0, 100]: below this occupancy nothing shrinks
    std::chrono::milliseconds at_full{1'000};  // the deadline with every handshake slot in use
};

/// ConnectionLimiter. Addresses are IPv4 /32 or IPv6 /64 (see Address); networks are the IPv4 /24 or IPv6
/// /48 that holds them (Address::network()).
struct ConnectionLimits {
    std::size_t max_connections = 4096;            // concurrent, all addresses
    std::size_t max_connections_per_address = 16;  // concurrent, one address
    /// Concurrent, one network: a quarter of max_connections, so one /24 or /48 (one hosting customer, one
    /// site) cannot take the node; an honest CGNAT /24 still gets 64 times the per-address share.
    std::size_t max_connections_per_network = 1024;
    std::size_t max_handshakes = 256;            // pre-auth (TCP accepted, HELLO_ACK not yet sent), global
    std::size_t max_handshakes_per_address = 4;  // pre-auth, one address
    /// Pre-auth, one network: a quarter of max_handshakes. Filling the handshake table therefore takes at
    /// least four networks, so a flood from one network never fills it and never evicts anyone (below).
    std::size_t max_handshakes_per_network = 64;
    Rate new_connections_per_address{5, std::chrono::seconds(1), 10};
    /// With max_handshakes in progress, a new connection that passes every other check takes the slot of the
    /// oldest pre-auth connection (which is told: ConnectionPermit::on_evicted) instead of being refused, as
    /// SYN caches drop the oldest half-open entry. An honest handshake completes in a few round trips, a
    /// slow one holds its slot for seconds, so under a flood the slow ones are the ones evicted. False:
    /// refuse with too_many_handshakes.
    bool evict_oldest_handshake = true;
    AdaptiveDeadline handshake_deadline{};
    /// The node closes a connection whose first TLS record (the ClientHello) is not complete this soon after
    /// accept, and builds no TLS state for it before it is (the kernel buffers the bytes): an honest client
    /// sends its ClientHello in one flight, within one round trip of connecting. Applied by the net module
    /// (shortened further, like the TLS deadline, when the handshake table is busy).
    std::chrono::milliseconds client_hello_timeout{2'000};
    /// Addresses tracked at once; must be >= max_connections so that connected addresses alone cannot
    /// fill it. An address with no connection and a full bucket is idle and may be evicted. Networks are
    /// tracked in a second table of the same size, only while they have connections.
    std::size_t max_tracked_addresses = 65536;
    std::size_t shards = 16;  // a power of two
};

/// The node's defaults for every limiter of this module (what `p2p-node --help` shows).
struct Limits {
    KeyedLimits requests_per_address{Rate{20, std::chrono::seconds(1), 40}, 65536, 16};
    KeyedLimits requests_per_peer{Rate{50, std::chrono::seconds(1), 100}, 16384, 16};
    KeyedLimits requests_per_method{Rate{200, std::chrono::seconds(1), 400}, 1024, 4};
    ConnectionLimits connections{};
    /// Audit events of connections that never authenticated (refused, evicted, TLS failures, failed HELLOs,
    /// their session_closed), keyed by event kind: a flood must not flood the audit log. Each kind gets 10
    /// a second in bursts of 20; the rest are counted, and the next event recorded says how many of its kind
    /// were left out. Events of authenticated sessions are never sampled.
    KeyedLimits preauth_audit{Rate{10, std::chrono::seconds(1), 20}, 64, 1};
};

}  // namespace cyxp2p::ratelimit
