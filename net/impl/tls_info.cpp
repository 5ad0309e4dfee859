#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cyxp2p/net/detail/tls_info.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/pin.hpp>
#include <cyxp2p/pinning/tls_policy.hpp>

namespace cyxp2p::net::detail {

TlsInfo tls_info(const SSL* ssl) {
    TlsInfo info;
    info.version = SSL_get_version(ssl);
    if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl)) info.cipher = SSL_CIPHER_get_name(c);
    const auto group = static_cast<int>(SSL_get_negotiated_group(const_cast<SSL*>(ssl)));
    if (group != 0) {
        const char* name = (group & TLSEXT_nid_unknown) != 0 ? nullptr : OBJ_nid2sn(group);
        info.group = name != nullptr ? name : std::to_string(group);
    }
    const unsigned char* alpn = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &len);
    info.alpn.assign(reinterpret_cast<const char*>(alpn), len);
    if (X509* peer = SSL_get0_peer_certificate(ssl)) {
        std::error_code ec;
        if (auto pin = pinning::Pin::of_certificate(peer, ec)) info.peer_pin = pin->to_string();
    }
    info.resumed = SSL_session_reused(ssl) == 1;
    return info;
}

std::string certificate_thumbprint(const X509* cert) {
    unsigned char* der = nullptr;
    const int len = i2d_X509(cert, &der);
    if (len <= 0) return {};
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(der, static_cast<std::size_t>(len), digest);
    OPENSSL_free(der);
    static constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char b : digest) {
        acc = (acc << 8) | b;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += kB64Url[(acc >> bits) & 0x3F];
        }
    }
    if (bits > 0) out += kB64Url[(acc << (6 - bits)) & 0x3F];
    return out;
}

std::string peer_certificate_thumbprint(const SSL* ssl) {
    X509* peer = SSL_get0_peer_certificate(ssl);
    return peer != nullptr ? certificate_thumbprint(peer) : std::string();
}

std::error_code classify_tls_failure(const SSL* ssl, const boost::system::error_code& ec) {
    unsigned long openssl_error = 0;
    if (ec.category() == boost::asio::error::get_ssl_category())
        openssl_error = static_cast<unsigned long>(ec.value());
    const std::error_code reason = pinning::classify_failure(ssl, openssl_error);
    if (reason == pinning::errc::handshake_failed) {
        if (ec == boost::asio::error::eof || ec == boost::asio::ssl::error::stream_truncated ||
            ec == boost::asio::error::connection_reset) {
            // A client closed on before any ServerHello: the node hung up before TLS began, which is what its
            // connection limits (a refusal, an eviction, a pre-auth deadline under a flood) look like from
            // outside. It is not a peer that does not speak TLS 1.3.
            const OSSL_HANDSHAKE_STATE state = SSL_get_state(ssl);
            if (SSL_is_server(ssl) == 0 && (state == TLS_ST_BEFORE || state == TLS_ST_CW_CLNT_HELLO))
                return make_error_code(errc::connection_refused_by_limit);
            return make_error_code(errc::connection_lost);
        }
        return make_error_code(errc::tls_failed);
    }
    return reason;
}

}  // namespace cyxp2p::net::detail
