#include <cyxp2p/pinning/errc.hpp>

namespace cyxp2p::pinning {
namespace {

class Category final : public std::error_category {
  public:
    const char* name() const noexcept override { return "cyxp2p.pinning"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::empty_entry:
                return "empty entry in pin list: remove the stray ';'";
            case errc::wrong_prefix:
                return "pin must start with 'sha256//' (the curl --pinnedpubkey form)";
            case errc::bad_base64:
                return "pin digest is not canonical base64";
            case errc::wrong_digest_length:
                return "pin digest must be 32 bytes (SHA-256), i.e. 44 base64 characters";
            case errc::empty_pin_list:
                return "pin list is empty: give at least one sha256//... pin";
            case errc::bad_pem:
                return "input is not a readable PEM certificate or key";
            case errc::unsupported_key_type:
                return "unsupported key type: use ed25519 or p256";
            case errc::key_file_permissions:
                return "private key file is readable by group or others: chmod 600 it";
            case errc::key_cert_mismatch:
                return "the certificate does not belong to the private key: recreate the identity";
            case errc::identity_exists:
                return "an identity already exists there: pass --force to replace it";
            case errc::identity_not_found:
                return "no identity there: create one with 'p2p-node init --identity DIR'";
            case errc::io_error:
                return "file could not be read or written";
            case errc::crypto_failure:
                return "OpenSSL operation failed";
            case errc::bad_node_id:
                return "node id must be 1-64 characters of [A-Za-z0-9._-]";
            case errc::pin_mismatch:
                return "peer certificate does not match any pinned key";
            case errc::pins_expired:
                return "the pin set has expired: fetch current pins for this node";
            case errc::no_pins_configured:
                return "no pins were set for this connection (refusing to connect unpinned)";
            case errc::not_tls13:
                return "peer did not negotiate TLS 1.3";
            case errc::alpn_mismatch:
                return "peer did not agree on ALPN 'cyx-p2p/1'";
            case errc::no_peer_certificate:
                return "peer presented no certificate";
            case errc::handshake_failed:
                return "TLS handshake failed";
        }
        return "unknown pinning error";
    }
};

}  // namespace

const std::error_category& category() noexcept {
    static const Category instance;
    return instance;
}

const char* to_string(errc e) noexcept {
    switch (e) {
        case errc::empty_entry:
            return "empty_entry";
        case errc::wrong_prefix:
            return "wrong_prefix";
        case errc::bad_base64:
            return "bad_base64";
        case errc::wrong_digest_length:
            return "wrong_digest_length";
        case errc::empty_pin_list:
            return "empty_pin_list";
        case errc::bad_pem:
            return "bad_pem";
        case errc::unsupported_key_type:
            return "unsupported_key_type";
        case errc::key_file_permissions:
            return "key_file_permissions";
        case errc::key_cert_mismatch:
            return "key_cert_mismatch";
        case errc::identity_exists:
            return "identity_exists";
        case errc::identity_not_found:
            return "identity_not_found";
        case errc::io_error:
            return "io_error";
        case errc::crypto_failure:
            return "crypto_failure";
        case errc::bad_node_id:
            return "bad_node_id";
        case errc::pin_mismatch:
            return "pin_mismatch";
        case errc::pins_expired:
            return "pins_expired";
        case errc::no_pins_configured:
            return "no_pins_configured";
        case errc::not_tls13:
            return "not_tls13";
        case errc::alpn_mismatch:
            return "alpn_mismatch";
        case errc::no_peer_certificate:
            return "no_peer_certificate";
        case errc::handshake_failed:
            return "handshake_failed";
    }
    return "unknown";
}

}  // namespace cyxp2p::pinning
