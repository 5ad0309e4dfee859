// Hand-made tokens for the auth tests: any header, any payload, signed with raw OpenSSL/libsodium so the
// tests do not trust the code under test to build what they feed it.
#pragma once

#include <sodium.h>

#include <array>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cyxp2p/auth/jwt.hpp>

namespace cyxp2p::auth::testkit {

inline constexpr std::int64_t kNow = 1'764'000'000;  // 2025-11-24
inline constexpr const char* kNode = "node-7f3a";

inline std::string b64url(std::string_view s) {
    static constexpr char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::size_t i = 0;
    const auto* d = reinterpret_cast<const unsigned char*>(s.data());
    for (; i + 3 <= s.size(); i += 3) {
        const unsigned v = (unsigned{d[i]} << 16) | (unsigned{d[i + 1]} << 8) | d[i + 2];
        for (int k = 18; k >= 0; k -= 6) out += a[(v >> k) & 63];
    }
    if (s.size() - i == 1) {
        const unsigned v = unsigned{d[i]} << 16;
        out += a[(v >> 18) & 63];
        out += a[(v >> 12) & 63];
    } else if (s.size() - i == 2) {
        const unsigned v = (unsigned{d[i]} << 16) | (unsigned{d[i + 1]} << 8);
        out += a[(v >> 18) & 63];
        out += a[(v >> 12) & 63];
        out += a[(v >> 6) & 63];
    }
    return out;
}

inline std::string bytes(const std::uint8_t* p, std::size_t n) {
    return {reinterpret_cast<const char*>(p), n};
}

inline std::string hmac(std::string_view key, std::string_view msg) {
    unsigned char out[32];
    unsigned len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len);
    return bytes(out, len);
}

/// header.payload signed with HS256 under `key` (raw bytes), whatever the header says.
inline std::string hs256_raw(std::string_view header, std::string_view payload, std::string_view key) {
    std::string input = b64url(header) + "." + b64url(payload);
    return input + "." + b64url(hmac(key, input));
}

struct EdKeys {
    std::array<unsigned char, 32> pk{};
    std::array<unsigned char, 64> sk{};
    EdKeys() {
        if (sodium_init() < 0) std::abort();
        crypto_sign_keypair(pk.data(), sk.data());
    }
};

inline std::string eddsa_raw(std::string_view header, std::string_view payload, const EdKeys& k) {
    std::string input = b64url(header) + "." + b64url(payload);
    unsigned char sig[64];
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                         k.sk.data());
    return input + "." + b64url(bytes(sig, 64));
}

/// A P2P payload that passes every check at kNow for kNode; tests change one member.
inline nlohmann::json good_payload() {
    return {{"iss", "cyxwiz-central-server"},
            {"sub", "user-42"},
            {"iat", kNow - 60},
            {"exp", kNow - 60 + 3600},
            {"node_id", kNode},
            {"session_id", "sess-1"},
            {"scope", {"job:execute", "metrics:report"}},
            {"token_type", "p2p"}};
}

inline VerifyOptions options() {
    VerifyOptions o;
    o.now = kNow;
    o.node_id = kNode;
    return o;
}

inline Claims good_claims() {
    Claims c;
    c.subject = "user-42";
    c.issued_at = kNow - 60;
    c.expires_at = kNow - 60 + 3600;
    c.node_id = kNode;
    c.session_id = "sess-1";
    c.scope = {"job:execute", "metrics:report"};
    return c;
}

}  // namespace cyxp2p::auth::testkit
