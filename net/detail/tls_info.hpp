#pragma once

#include <string>
#include <system_error>

#include <openssl/types.h>

#include <cyxp2p/net/detail/asio.hpp>
#include <cyxp2p/net/tls_info.hpp>

namespace cyxp2p::net::detail {

TlsInfo tls_info(const SSL* ssl);
/// RFC 8705 3.1 x5t#S256: base64url (no padding) of SHA-256 over the peer certificate's DER; empty if none.
std::string peer_certificate_thumbprint(const SSL* ssl);
std::string certificate_thumbprint(const X509* cert);
/// The most specific reason for a failed TLS handshake: pinning::errc when the policy knows it (pin
/// mismatch, not TLS 1.3, ALPN), else net::errc::tls_failed.
std::error_code classify_tls_failure(const SSL* ssl, const boost::system::error_code& ec);

}  // namespace cyxp2p::net::detail
