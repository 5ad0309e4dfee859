// Error codes of the pinning module (node identity, SPKI pins, TLS policy).
#pragma once

#include <string>
#include <system_error>

namespace cyxp2p::pinning {

enum class errc {
    // Pin and pin list syntax (curl --pinnedpubkey form).
    empty_entry = 1,
    wrong_prefix,
    bad_base64,
    wrong_digest_length,
    empty_pin_list,
    // Certificates and keys.
    bad_pem,
    unsupported_key_type,
    key_file_permissions,
    key_cert_mismatch,
    identity_exists,
    identity_not_found,
    io_error,
    crypto_failure,
    bad_node_id,
    // TLS policy and the pinned handshake.
    pin_mismatch,
    pins_expired,
    no_pins_configured,
    not_tls13,
    alpn_mismatch,
    no_peer_certificate,
    handshake_failed,
};

const std::error_category& category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), category()};
}

/// The enumerator's name ("pin_mismatch"), for logs, --json output and exit-code tables.
const char* to_string(errc e) noexcept;

}  // namespace cyxp2p::pinning

template <>
struct std::is_error_code_enum<cyxp2p::pinning::errc> : std::true_type {};
