#include <climits>
#include <limits>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <cyxp2p/pinning/detail/openssl.hpp>
#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/pin.hpp>

namespace cyxp2p::pinning {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// Strict RFC 4648 section 4 decoding of exactly one 32-byte digest: 43 symbols and one '='. The last
// symbol carries 2 unused bits that must be zero (section 3.5: canonical encoding), so each digest has
// exactly one accepted spelling and pins compare as strings too.
bool decode_digest(std::string_view b64, std::array<std::uint8_t, Pin::digest_size>& out,
                   std::error_code& ec) {
    std::size_t pad = 0;
    while (pad < 2 && pad < b64.size() && b64[b64.size() - 1 - pad] == '=') ++pad;
    for (std::size_t i = 0; i + pad < b64.size(); ++i) {
        if (sextet(b64[i]) < 0) {
            ec = errc::bad_base64;
            return false;
        }
    }
    if (b64.size() % 4 != 0) {
        ec = errc::bad_base64;  // RFC 4648 section 3.2: padding is required
        return false;
    }
    const std::size_t bytes = b64.size() / 4 * 3 - pad;
    if (bytes != Pin::digest_size || pad != 1) {
        ec = errc::wrong_digest_length;
        return false;
    }
    std::uint32_t acc = 0;
    int bits = 0;
    std::size_t n = 0;
    for (std::size_t i = 0; i + pad < b64.size(); ++i) {
        acc = (acc << 6) | static_cast<std::uint32_t>(sextet(b64[i]));
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = static_cast<std::uint8_t>(acc >> bits);
            acc &= (1U << bits) - 1;
        }
    }
    if (acc != 0) {  // non-zero unused bits: a non-canonical spelling of some digest
        ec = errc::bad_base64;
        return false;
    }
    return true;
}

}  // namespace

std::optional<Pin> Pin::parse(std::string_view text, std::error_code& ec) {
    ec.clear();
    if (text.substr(0, prefix.size()) != prefix) {
        ec = errc::wrong_prefix;
        return std::nullopt;
    }
    std::array<std::uint8_t, digest_size> digest{};
    if (!decode_digest(text.substr(prefix.size()), digest, ec)) return std::nullopt;
    return Pin(digest);
}

Pin Pin::of_spki_der(std::span<const std::uint8_t> spki_der) {
    std::array<std::uint8_t, digest_size> d{};
    SHA256(spki_der.data(), spki_der.size(), d.data());
    return Pin(d);
}

std::optional<Pin> Pin::of_certificate(const X509* cert, std::error_code& ec) {
    ec.clear();
    // X509_get0_pubkey takes a non-const pointer in OpenSSL 3.0 but does not modify the certificate.
    EVP_PKEY* key = cert != nullptr ? X509_get0_pubkey(const_cast<X509*>(cert)) : nullptr;
    unsigned char* der = nullptr;
    const int len = key != nullptr ? i2d_PUBKEY(key, &der) : -1;  // DER SubjectPublicKeyInfo
    if (len <= 0) {
        ec = errc::crypto_failure;
        return std::nullopt;
    }
    Pin pin = of_spki_der({der, static_cast<std::size_t>(len)});
    OPENSSL_free(der);
    return pin;
}

std::optional<Pin> Pin::of_certificate_pem(std::string_view pem, std::error_code& ec) {
    ec.clear();
    if (pem.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
        ec = errc::bad_pem;
        return std::nullopt;
    }
    detail::Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    detail::Owned<X509> cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!cert) {
        ec = errc::bad_pem;
        return std::nullopt;
    }
    return of_certificate(cert.get(), ec);
}

std::string Pin::to_string() const {
    std::string out(prefix);
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::uint8_t b : digest_) {
        acc = (acc << 8) | b;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += kAlphabet[(acc >> bits) & 0x3F];
        }
    }
    if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 0x3F];
    while ((out.size() - prefix.size()) % 4 != 0) out += '=';
    return out;
}

bool operator==(const Pin& a, const Pin& b) noexcept {
    return CRYPTO_memcmp(a.digest_.data(), b.digest_.data(), Pin::digest_size) == 0;
}

}  // namespace cyxp2p::pinning
