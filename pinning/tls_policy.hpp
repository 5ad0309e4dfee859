// The TLS policy of every cyxwiz-p2p link, as OpenSSL contexts: TLS 1.3 only, AEAD suites, X25519 then
// P-256, ALPN "cyx-p2p/1" required on both sides, no compression, no renegotiation, no 0-RTT. The Engine
// accepts a Node if and only if the Node's leaf SPKI is in the PinSet attached to that connection; CA
// trust, names and dates are not consulted.
//
// These functions only build and inspect OpenSSL objects; net/ drives them over sockets, tests over
// memory BIOs.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <openssl/types.h>

#include <cyxp2p/pinning/identity.hpp>
#include <cyxp2p/pinning/pin_set.hpp>

namespace cyxp2p::pinning {

/// ALPN protocol id of wire version 1 (docs/protocol.md).
inline constexpr std::string_view alpn_protocol = "cyx-p2p/1";

struct TlsOptions {
    /// TLS 1.3 suites, all AEAD (RFC 8446 B.4). CCM suites are left out: nobody needs them on this link.
    std::string ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
    /// Key-exchange groups in preference order.
    std::string groups = "X25519:P-256";
};

using SslCtxPtr = std::shared_ptr<SSL_CTX>;

/// Server context for a Node presenting `identity`. Fails with crypto_failure.
SslCtxPtr make_node_context(const Identity& identity, std::error_code& ec, const TlsOptions& options = {});

/// Client context for an Engine. Every SSL made from it must get its pins with expect_pins() before the
/// handshake, or the handshake fails closed with no_pins_configured.
SslCtxPtr make_engine_context(std::error_code& ec, const TlsOptions& options = {});

/// What the pin check saw on one connection.
struct PinCheck {
    PinSet expected;
    PinSet::Clock::time_point checked_at;
    bool ran = false;           // the verify hook ran (it does not on session resumption)
    std::optional<Pin> actual;  // the peer's leaf SPKI pin, once seen
    std::error_code result;     // empty when matched; pin_mismatch, pins_expired, no_peer_certificate

    /// "node presented sha256//X; expected one of sha256//A;sha256//B" and the like.
    std::string describe() const;
};

/// Attaches the pins this connection accepts, checked against `now` (for PinSet expiry).
std::error_code expect_pins(SSL* ssl, PinSet pins, PinSet::Clock::time_point now = PinSet::Clock::now());

/// The pin check of `ssl`, or nullptr if expect_pins() was never called.
const PinCheck* pin_check(const SSL* ssl);

/// After a successful handshake: confirms TLS 1.3 and ALPN "cyx-p2p/1", and on the client side that the
/// peer's key is pinned (also on a resumed session, where the verify hook did not run).
std::error_code check_established(const SSL* ssl);

/// After a failed handshake: the most specific reason (pin_mismatch, pins_expired, no_pins_configured,
/// not_tls13, alpn_mismatch) or handshake_failed. `openssl_error` is the error that failed the handshake
/// (ERR_peek_last_error() on the failing thread).
std::error_code classify_failure(const SSL* ssl, unsigned long openssl_error);

}  // namespace cyxp2p::pinning
