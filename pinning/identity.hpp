// A Node's long-term identity: a private key and a self-signed X.509 v3 certificate whose CN is the node id.
// Engines never trust the certificate's issuer or dates; they pin its public key (pin.hpp). The
// certificate exists because TLS needs one.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include <openssl/types.h>

#include <cyxp2p/pinning/pin.hpp>

namespace cyxp2p::pinning {

enum class KeyType { ed25519, p256 };

struct IdentityOptions {
    KeyType key_type = KeyType::ed25519;
    /// Empty: a random UUID (v4), the form the Central Server uses for node ids.
    std::string node_id;
    /// Certificate validity from creation. Engines ignore it (they pin the key), but OpenSSL peers and
    /// curl check it, so a long default avoids surprise outages; rotate by re-pinning, not by expiry.
    std::chrono::hours validity = std::chrono::hours(24 * 825);
};

class Identity {
  public:
    /// File names inside an identity directory.
    static constexpr const char* key_file = "node.key";   // PKCS#8 PEM, mode 0600
    static constexpr const char* cert_file = "node.crt";  // PEM

    /// Creates a fresh key and certificate. Fails with bad_node_id, unsupported_key_type or crypto_failure.
    static std::optional<Identity> generate(const IdentityOptions& options, std::error_code& ec);

    /// Loads DIR/node.key and DIR/node.crt. Refuses a key file that group or others can access
    /// (key_file_permissions), a certificate that does not belong to the key (key_cert_mismatch).
    static std::optional<Identity> load(const std::filesystem::path& dir, std::error_code& ec);

    /// Writes DIR/node.key (0600, created exclusively) and DIR/node.crt, creating DIR with mode 0700 if
    /// needed. Refuses to replace an existing identity (identity_exists) unless `overwrite`; when it does
    /// replace one, both files are written to temporaries and renamed, so a crash never leaves a key and a
    /// certificate that do not belong together.
    std::error_code save(const std::filesystem::path& dir, bool overwrite = false) const;

    const std::string& node_id() const { return node_id_; }
    KeyType key_type() const { return key_type_; }
    const Pin& pin() const { return pin_; }
    std::string certificate_pem() const;
    std::string private_key_pem() const;  // secret: never log it

    X509* certificate() const { return cert_.get(); }
    EVP_PKEY* private_key() const { return key_.get(); }

  private:
    Identity(std::shared_ptr<X509> cert, std::shared_ptr<EVP_PKEY> key, std::string node_id, KeyType type,
             Pin pin);

    std::shared_ptr<X509> cert_;
    std::shared_ptr<EVP_PKEY> key_;
    std::string node_id_;
    KeyType key_type_;
    Pin pin_;
};

/// True when `id` is 1-64 characters of [A-Za-z0-9._-] (safe in a CN, a file name and a log line).
bool valid_node_id(std::string_view id);

}  // namespace cyxp2p::pinning
