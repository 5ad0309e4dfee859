// Error codes of the transport shell (what can go wrong around the protocol: sockets, TLS, deadlines).
// Protocol refusals keep their protocol::errc (token_rejected, replayed, ...) and pin failures their
// pinning::errc (pin_mismatch, ...), so a caller can tell every failure class apart.
#pragma once

#include <string>
#include <string_view>
#include <system_error>

namespace cyxp2p::net {

enum class errc {
    connect_failed = 1,           // TCP connect refused or unreachable
    connect_timeout,              // TCP connect did not finish in time
    tls_timeout,                  // TLS handshake did not finish in time
    tls_failed,                   // TLS handshake failed (not the pin: see pinning::errc)
    connection_refused_by_limit,  // the node closed the connection before its ServerHello (limits, overload)
    connection_lost,              // the peer closed the connection or the socket failed
    not_connected,                // the session is closed or not yet ready
    address_in_use,               // the listen port is taken
    // The JWKS URL client (JwksUrlSource).
    keys_bad_url,         // not https://HOST[:PORT]/PATH
    keys_http_status,     // the key server answered something other than 200 (redirects are not followed)
    keys_too_large,       // the response body exceeds JwksUrlOptions::max_body_bytes
    keys_timeout,         // connect + TLS + request + response took longer than the fetch timeout
    keys_secret_refused,  // the published set holds a symmetric (oct/HS256) key and allow_secret is off
    node_id_changed,      // Node::replace_identity with an identity for another node_id
    limits_out_of_range,  // Node::update_limits with a value the node cannot honour (nothing changed)
    // The Redis client of fleet mode (net/redis.hpp, docs/fleet.md).
    redis_bad_url,     // not redis://HOST[:PORT][/DB], rediss://HOST[:PORT][/DB] or unix:///PATH
    redis_tls_file,    // rediss://: a CA, certificate or key file is unreadable, invalid, or a key mismatch
    redis_tls_failed,  // rediss://: the handshake failed or the server's certificate was refused
    redis_password_file,  // the password file is unreadable, empty, or readable by group/others
    redis_unavailable,    // not connected (reconnecting with backoff), or too many calls queued
    redis_timeout,        // no reply within RedisLimits::call_deadline
    redis_error,          // the server answered an error (AUTH, SELECT, a script)
    // The multi-source fetch (net/multi_fetch.hpp).
    no_source_left,  // every source of a multi-source fetch was dropped before the DAG was complete
    // The node's handler API (net/node.hpp).
    already_answered,  // a Responder's reply() or fail() after the call was answered
    // Engine streams (net/engine.hpp).
    end_of_stream,     // ClientStream::async_read: the node finished its side and every message was read
    read_in_progress,  // ClientStream::async_read while another read on the same stream is pending
};

const std::error_category& category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), category()};
}
const char* to_string(errc e) noexcept;

/// The stable snake_case name of an error code of any cyxp2p module (net, pinning, protocol, auth, content,
/// ratelimit, replay): what audit records carry and the tools print as the code. `fallback` for a code of
/// any other category (a system error, an Asio error).
std::string error_name(const std::error_code& ec, std::string_view fallback);

}  // namespace cyxp2p::net

template <>
struct std::is_error_code_enum<cyxp2p::net::errc> : std::true_type {};
