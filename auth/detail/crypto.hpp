// The two signature primitives, thin and constant-time where it matters. Private to auth/.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cyxp2p::auth::detail {

/// HMAC-SHA256 (RFC 2104) with OpenSSL. Returns false only if OpenSSL fails.
bool hmac_sha256(const std::uint8_t* key, std::size_t key_len, std::string_view msg,
                 std::array<std::uint8_t, 32>& out) noexcept;

/// Compares a received HS256 tag with the expected one in constant time (CRYPTO_memcmp).
bool hs256_verify(const std::uint8_t* key, std::size_t key_len, std::string_view signing_input,
                  const std::uint8_t* sig, std::size_t sig_len) noexcept;

/// Ed25519 (RFC 8032) with libsodium. `sk` is libsodium's 64-byte secret key (seed || public key).
bool ed25519_sign(const std::uint8_t* sk, std::string_view msg, std::array<std::uint8_t, 64>& out) noexcept;
bool ed25519_verify(const std::uint8_t* pk, std::string_view msg, const std::uint8_t* sig,
                    std::size_t sig_len) noexcept;

/// sodium_init(), once; aborts the process if libsodium cannot start (it never fails on Linux).
void ensure_sodium() noexcept;

}  // namespace cyxp2p::auth::detail
