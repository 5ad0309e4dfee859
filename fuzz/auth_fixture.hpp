// The fixed trust of the auth and session harnesses (and of the seed generator): one keyring, one clock,
// one node identity, tokens minted under them.
#pragma once

#include <string>
#include <string_view>

#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/auth/keyring.hpp>

#include "check.hpp"

namespace cyxp2p::fuzz {

inline constexpr std::int64_t kNow = 1'700'000'000;  // Unix seconds: the fixed "now" of every harness
inline constexpr std::string_view kNodeId = "node-1";
inline constexpr std::string_view kHsKid = "hs1";
inline constexpr std::string_view kEdKid = "ed1";

/// The trusted keys: one HS256 secret (32 bytes 0x00..0x1f) and the Ed25519 pair of RFC 8037 A.1.
inline constexpr std::string_view kJwks =
    R"({"keys":[)"
    R"({"kty":"oct","kid":"hs1","alg":"HS256","use":"sig","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"},)"
    R"({"kty":"OKP","crv":"Ed25519","kid":"ed1","alg":"EdDSA","use":"sig",)"
    R"("d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})";

inline const auth::Keyring& keyring() {
    static const auth::Keyring keys = [] {
        std::error_code ec;
        auto k = auth::Keyring::from_jwks(kJwks, ec);
        if (!k) {
            std::fprintf(stderr, "fuzz keyring: %s\n", ec.message().c_str());
            std::abort();
        }
        return std::move(*k);
    }();
    return keys;
}

inline const auth::Jwk& key(std::string_view kid) {
    const auth::Jwk* k = keyring().find(kid);
    if (k == nullptr) std::abort();
    return *k;
}

/// A P2P token that passes every check at kNow for kNodeId.
inline auth::Claims p2p_claims() {
    auth::Claims c;
    c.subject = "user-1";
    c.node_id = std::string(kNodeId);
    c.session_id = "sess-1";
    c.issued_at = kNow - 10;
    c.expires_at = kNow + 3000;
    c.scope = {"job:execute", "metrics:read", "content:read"};
    return c;
}

inline std::string mint(const auth::Claims& c, std::string_view kid = kHsKid) {
    std::error_code ec;
    auto t = auth::mint(c, key(kid), ec);
    if (!t) {
        std::fprintf(stderr, "fuzz mint: %s\n", ec.message().c_str());
        std::abort();
    }
    return *t;
}

inline const std::string& p2p_token() {
    static const std::string t = mint(p2p_claims());
    return t;
}

}  // namespace cyxp2p::fuzz
