#include <sodium.h>

#include <cstdlib>
#include <mutex>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cyxp2p/auth/detail/crypto.hpp>

namespace cyxp2p::auth::detail {

void ensure_sodium() noexcept {
    static std::once_flag once;
    std::call_once(once, [] {
        if (sodium_init() < 0) std::abort();
    });
}

bool hmac_sha256(const std::uint8_t* key, std::size_t key_len, std::string_view msg,
                 std::array<std::uint8_t, 32>& out) noexcept {
    unsigned int len = 0;
    const auto* r = HMAC(EVP_sha256(), key, static_cast<int>(key_len),
                         reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out.data(), &len);
    return r != nullptr && len == out.size();
}

bool hs256_verify(const std::uint8_t* key, std::size_t key_len, std::string_view signing_input,
                  const std::uint8_t* sig, std::size_t sig_len) noexcept {
    std::array<std::uint8_t, 32> expected{};
    if (!hmac_sha256(key, key_len, signing_input, expected)) return false;
    // RFC 7515 10.9 / RFC 8725 3.x: compare MACs in constant time. The length is public (always 32).
    const bool ok = sig_len == expected.size() && CRYPTO_memcmp(expected.data(), sig, expected.size()) == 0;
    OPENSSL_cleanse(expected.data(), expected.size());
    return ok;
}

bool ed25519_sign(const std::uint8_t* sk, std::string_view msg, std::array<std::uint8_t, 64>& out) noexcept {
    ensure_sodium();
    return crypto_sign_detached(out.data(), nullptr, reinterpret_cast<const unsigned char*>(msg.data()),
                                msg.size(), sk) == 0;
}

bool ed25519_verify(const std::uint8_t* pk, std::string_view msg, const std::uint8_t* sig,
                    std::size_t sig_len) noexcept {
    ensure_sodium();
    if (sig_len != crypto_sign_BYTES) return false;
    return crypto_sign_verify_detached(sig, reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                                       pk) == 0;
}

}  // namespace cyxp2p::auth::detail
