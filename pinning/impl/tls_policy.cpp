#include <cstring>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/tls_policy.hpp>

namespace cyxp2p::pinning {
namespace {

// ALPN wire form: length-prefixed protocol names (RFC 7301 section 3.1).
constexpr unsigned char kAlpnWire[] = {9, 'c', 'y', 'x', '-', 'p', '2', 'p', '/', '1'};
static_assert(sizeof kAlpnWire == 1 + alpn_protocol.size());

void free_pin_check(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<PinCheck*>(ptr);
}

int pin_check_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_pin_check);
    return index;
}

PinCheck* mutable_pin_check(const SSL* ssl) {
    return static_cast<PinCheck*>(SSL_get_ex_data(ssl, pin_check_index()));
}

bool apply_common(SSL_CTX* ctx, const TlsOptions& options) {
    SSL_CTX_set_options(ctx,
                        SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    return SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1 &&
           SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1 &&
           SSL_CTX_set_ciphersuites(ctx, options.ciphersuites.c_str()) == 1 &&
           SSL_CTX_set1_groups_list(ctx, options.groups.c_str()) == 1 &&
           // RFC 8446 section 8: 0-RTT data is replayable; the replay window does not cover it.
           SSL_CTX_set_max_early_data(ctx, 0) == 1 && SSL_CTX_set_recv_max_early_data(ctx, 0) == 1;
}

// Server: a ClientHello without ALPN never reaches the select callback, so refuse it here.
int client_hello_cb(SSL* ssl, int* alert, void*) {
    const unsigned char* ext = nullptr;
    std::size_t len = 0;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext, &len) != 1) {
        *alert = SSL_AD_NO_APPLICATION_PROTOCOL;
        return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

int alpn_select_cb(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                   unsigned int inlen, void*) {
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, kAlpnWire, sizeof kAlpnWire, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_ALERT_FATAL;  // RFC 7301 section 3.2: no_application_protocol
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

// Client: replaces chain building entirely. Only the leaf's key matters.
int verify_pins_cb(X509_STORE_CTX* store, void*) {
    auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    PinCheck* check = ssl != nullptr ? mutable_pin_check(ssl) : nullptr;
    if (check == nullptr) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    check->ran = true;
    X509* leaf = X509_STORE_CTX_get0_cert(store);
    std::error_code ec;
    check->actual = leaf != nullptr ? Pin::of_certificate(leaf, ec) : std::nullopt;
    if (!check->actual) {
        check->result = errc::no_peer_certificate;
    } else if (check->expected.expired(check->checked_at)) {
        check->result = errc::pins_expired;
    } else if (!check->expected.matches(*check->actual, check->checked_at)) {
        check->result = errc::pin_mismatch;
    } else {
        check->result.clear();
        return 1;
    }
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
}

SslCtxPtr wrap(SSL_CTX* ctx) {
    return SslCtxPtr(ctx, SSL_CTX_free);
}

}  // namespace

SslCtxPtr make_node_context(const Identity& identity, std::error_code& ec, const TlsOptions& options) {
    ec.clear();
    SslCtxPtr ctx = wrap(SSL_CTX_new(TLS_server_method()));
    static constexpr unsigned char sid_ctx[] = "cyx-p2p/1";
    if (!ctx || !apply_common(ctx.get(), options) ||
        SSL_CTX_use_certificate(ctx.get(), identity.certificate()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx.get(), identity.private_key()) != 1 ||
        SSL_CTX_check_private_key(ctx.get()) != 1 ||
        SSL_CTX_set_session_id_context(ctx.get(), sid_ctx, sizeof sid_ctx - 1) != 1) {
        ERR_clear_error();
        ec = errc::crypto_failure;
        return nullptr;
    }
    SSL_CTX_set_client_hello_cb(ctx.get(), client_hello_cb, nullptr);
    SSL_CTX_set_alpn_select_cb(ctx.get(), alpn_select_cb, nullptr);
    return ctx;
}

SslCtxPtr make_engine_context(std::error_code& ec, const TlsOptions& options) {
    ec.clear();
    SslCtxPtr ctx = wrap(SSL_CTX_new(TLS_client_method()));
    // SSL_CTX_set_alpn_protos returns 0 on success (unlike most of the API).
    if (!ctx || !apply_common(ctx.get(), options) ||
        SSL_CTX_set_alpn_protos(ctx.get(), kAlpnWire, sizeof kAlpnWire) != 0) {
        ERR_clear_error();
        ec = errc::crypto_failure;
        return nullptr;
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_cert_verify_callback(ctx.get(), verify_pins_cb, nullptr);
    return ctx;
}

std::error_code expect_pins(SSL* ssl, PinSet pins, PinSet::Clock::time_point now) {
    auto check = std::make_unique<PinCheck>(PinCheck{std::move(pins), now, false, std::nullopt, {}});
    PinCheck* old = mutable_pin_check(ssl);
    if (SSL_set_ex_data(ssl, pin_check_index(), check.get()) != 1) return errc::crypto_failure;
    check.release();
    delete old;
    return {};
}

const PinCheck* pin_check(const SSL* ssl) {
    return mutable_pin_check(ssl);
}

std::string PinCheck::describe() const {
    if (!ran) return "pin check did not run";
    const std::string expected_list = expected.to_string();
    if (!result) return "node key " + actual->to_string() + " is pinned";
    if (result == errc::pins_expired) return "the pin set (" + expected_list + ") has expired";
    if (!actual) return "node presented no certificate; expected one of " + expected_list;
    return "node presented " + actual->to_string() + "; expected one of " + expected_list;
}

std::error_code check_established(const SSL* ssl) {
    if (SSL_version(ssl) != TLS1_3_VERSION) return errc::not_tls13;
    const unsigned char* proto = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl, &proto, &len);
    if (len != alpn_protocol.size() || std::memcmp(proto, alpn_protocol.data(), len) != 0) {
        return errc::alpn_mismatch;
    }
    if (SSL_is_server(ssl) == 1) return {};
    // Client: re-check the pin from the peer certificate itself, which also covers resumed sessions
    // (the verify hook does not run on resumption).
    const PinCheck* check = pin_check(ssl);
    if (check == nullptr) return errc::no_pins_configured;
    if (check->expected.expired(check->checked_at)) return errc::pins_expired;
    X509* peer = SSL_get0_peer_certificate(ssl);
    if (peer == nullptr) return errc::no_peer_certificate;
    if (!check->expected.matches(peer, check->checked_at)) return errc::pin_mismatch;
    return {};
}

std::error_code classify_failure(const SSL* ssl, unsigned long openssl_error) {
    if (const PinCheck* check = pin_check(ssl); check != nullptr && check->ran && check->result) {
        return check->result;
    }
    if (SSL_is_server(ssl) != 1 && pin_check(ssl) == nullptr) return errc::no_pins_configured;
    switch (ERR_GET_REASON(openssl_error)) {
        case SSL_R_UNSUPPORTED_PROTOCOL:
        case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
        case SSL_R_NO_PROTOCOLS_AVAILABLE:
        case SSL_R_WRONG_VERSION_NUMBER:
        case SSL_R_UNKNOWN_PROTOCOL:
            return errc::not_tls13;
        case SSL_R_NO_APPLICATION_PROTOCOL:
        case SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL:
        case SSL_R_CALLBACK_FAILED:  // our ClientHello callback refused a hello without ALPN
            return errc::alpn_mismatch;
        default:
            return errc::handshake_failed;
    }
}

}  // namespace cyxp2p::pinning
