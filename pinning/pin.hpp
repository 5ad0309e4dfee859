// SPKI pins: SHA-256 of a certificate's DER SubjectPublicKeyInfo, written in the curl / RFC 7469 form
// `sha256//<base64>`. Identical to
//   openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include <openssl/types.h>

namespace cyxp2p::pinning {

class Pin {
  public:
    static constexpr std::size_t digest_size = 32;
    static constexpr std::string_view prefix = "sha256//";

    /// Parses one `sha256//<44 base64 chars>` pin. On failure returns nullopt and sets ec to
    /// wrong_prefix, bad_base64 or wrong_digest_length.
    static std::optional<Pin> parse(std::string_view text, std::error_code& ec);

    /// Pin of a DER-encoded SubjectPublicKeyInfo.
    static Pin of_spki_der(std::span<const std::uint8_t> spki_der);
    /// Pin of a certificate's public key. Sets ec (crypto_failure) if the key cannot be encoded.
    static std::optional<Pin> of_certificate(const X509* cert, std::error_code& ec);
    /// Pin of the first certificate in a PEM text. Sets ec (bad_pem) if there is none.
    static std::optional<Pin> of_certificate_pem(std::string_view pem, std::error_code& ec);

    explicit Pin(const std::array<std::uint8_t, digest_size>& digest) : digest_(digest) {}

    const std::array<std::uint8_t, digest_size>& digest() const { return digest_; }
    std::string to_string() const;  // "sha256//..."

    /// Constant-time comparison; pins are public, but this keeps the habit uniform.
    friend bool operator==(const Pin& a, const Pin& b) noexcept;

  private:
    std::array<std::uint8_t, digest_size> digest_;
};

}  // namespace cyxp2p::pinning
