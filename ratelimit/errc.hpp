// Error codes of the ratelimit module: why a request or a connection was limited.
#pragma once

#include <chrono>
#include <string>
#include <system_error>

namespace cyxp2p::ratelimit {

/// Every denial of TokenBucket, KeyedLimiter and ConnectionLimiter names one of these. errc{} (0) means
/// "allowed" and is never an error; see Decision.
enum class errc {
    rate_limited = 1,                   // not enough tokens now; retry_after says when there will be
    exceeds_burst,                      // asked for more tokens than the bucket holds: never possible
    table_full,                         // KeyedLimiter: every tracked key is active; new keys are limited
    too_many_connections,               // global concurrent connections at max_connections
    too_many_connections_from_address,  // this IPv4 /32 or IPv6 /64 at max_connections_per_address
    too_many_handshakes,                // global pre-auth handshakes at max_handshakes
    too_many_handshakes_from_address,   // this address at max_handshakes_per_address
    connection_rate_limited,            // this address opens connections faster than new_connections allows
    address_table_full,                 // ConnectionLimiter: every tracked address is active
    too_many_connections_from_network,  // this IPv4 /24 or IPv6 /48 at max_connections_per_network
    too_many_handshakes_from_network,   // this network at max_handshakes_per_network
    /// Not a refusal of a new connection: an admitted one whose handshake slot a newer connection took
    /// (evict_oldest_handshake). What the node logs when it closes the evicted connection.
    handshake_evicted,
};
/// The highest enumerator, for tables indexed by errc (metrics per reason).
inline constexpr int errc_max = 12;

const std::error_category& category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), category()};
}

/// The enumerator's name ("rate_limited"), "allowed" for errc{}; for logs and the wire's reason text.
const char* to_string(errc e) noexcept;

/// The answer to one admission. The transport forwards `reason` and `retry_after` to the peer.
struct Decision {
    errc reason{};  // errc{} (0): allowed
    /// How long from `now` until the same request would be allowed, if nothing else changes:
    ///  - exact for rate_limited and connection_rate_limited (allowed at now + retry_after, not 1 ns sooner);
    ///  - table_full / address_table_full: when the least recently used entry becomes evictable;
    ///  - never() for exceeds_burst and for an empty bucket with a zero rate;
    ///  - zero when waiting alone does not help (concurrency limits: a slot frees when a peer disconnects).
    std::chrono::nanoseconds retry_after{0};

    static constexpr std::chrono::nanoseconds never() noexcept { return std::chrono::nanoseconds::max(); }
    bool allowed() const noexcept { return reason == errc{}; }
    explicit operator bool() const noexcept { return allowed(); }
    std::error_code error() const noexcept { return allowed() ? std::error_code{} : make_error_code(reason); }
};

}  // namespace cyxp2p::ratelimit

template <>
struct std::is_error_code_enum<cyxp2p::ratelimit::errc> : std::true_type {};
