// Compact JWS JWT verification and minting (RFC 7515 5.2, RFC 7519 7.2, RFC 8725 3).
#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <openssl/crypto.h>

#include <cyxp2p/auth/detail/base64url.hpp>
#include <cyxp2p/auth/detail/claims_codec.hpp>
#include <cyxp2p/auth/detail/crypto.hpp>
#include <cyxp2p/auth/detail/strict_json.hpp>
#include <cyxp2p/auth/jwt.hpp>

namespace cyxp2p::auth {

using nlohmann::json;

std::string Verified::message() const {
    std::string m = error.message();
    if (!detail.empty()) m += " [" + detail + "]";
    return m;
}

namespace {

Verified reject(errc code, std::string detail = {}) {
    Verified v;
    v.error = code;
    v.detail = std::move(detail);
    return v;
}

struct Parts {
    std::string_view header, payload, signature, signing_input;
};

// RFC 7515 7.1: BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(signature), nothing else.
std::optional<Parts> split(std::string_view token) {
    const auto first = token.find('.');
    if (first == std::string_view::npos) return std::nullopt;
    const auto second = token.find('.', first + 1);
    if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos)
        return std::nullopt;
    Parts p;
    p.header = token.substr(0, first);
    p.payload = token.substr(first + 1, second - first - 1);
    p.signature = token.substr(second + 1);
    p.signing_input = token.substr(0, second);
    if (p.header.empty() || p.payload.empty()) return std::nullopt;
    return p;
}

std::string_view as_text(const std::vector<std::uint8_t>& b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// Decoded, size-checked pieces shared by verify() and decode_unverified().
struct Decoded {
    Parts parts;
    std::vector<std::uint8_t> header, payload, signature;
};

std::optional<Decoded> decode(std::string_view token, const Limits& limits, errc& code) {
    if (token.size() > limits.max_token_bytes) {
        code = errc::too_large;
        return std::nullopt;
    }
    auto parts = split(token);
    if (!parts) {
        code = errc::malformed;
        return std::nullopt;
    }
    auto h = detail::base64url_decode(parts->header);
    auto p = detail::base64url_decode(parts->payload);
    auto s = detail::base64url_decode(parts->signature);
    if (!h || !p || !s) {
        code = errc::bad_base64;
        return std::nullopt;
    }
    return Decoded{*parts, std::move(*h), std::move(*p), std::move(*s)};
}

}  // namespace

Verified verify(std::string_view token, const Keyring& keys, const VerifyOptions& opts) {
    const Limits& limits = opts.limits;
    if (opts.leeway_s < 0 || opts.leeway_s > limits.max_leeway_s) {
        throw std::invalid_argument("auth::verify: leeway must be between 0 and Limits::max_leeway_s");
    }
    if (opts.expected_type == TokenType::p2p && opts.node_id.empty()) {
        throw std::invalid_argument("auth::verify: a P2P token needs the verifying node's id");
    }

    errc code{};
    auto d = decode(token, limits, code);
    if (!d) return reject(code);

    // RFC 7515 5.2 step 3-4: the header is a JSON object without duplicate names.
    auto header = detail::parse_strict_object(as_text(d->header), limits.max_json_depth);
    if (!header) return reject(errc::bad_json, "header");

    // RFC 8725 3.1: alg decides nothing on its own; it must be one we accept and the key's own.
    auto alg_it = header->find("alg");
    if (alg_it == header->end()) return reject(errc::unsupported_alg, "alg");
    if (!alg_it->is_string()) return reject(errc::bad_header, "alg");
    const auto alg = algorithm_from_string(alg_it->get_ref<const std::string&>());
    if (!alg) return reject(errc::unsupported_alg, alg_it->get<std::string>());  // includes "none"

    // RFC 7515 4.1.11: we implement no extension, so every crit entry is one we do not understand.
    if (auto crit = header->find("crit"); crit != header->end()) {
        if (!crit->is_array() || crit->empty()) return reject(errc::bad_header, "crit");
        for (const auto& c : *crit) {
            if (!c.is_string()) return reject(errc::bad_header, "crit");
        }
        return reject(errc::crit_unsupported, crit->front().get<std::string>());
    }
    // RFC 7797: an unencoded payload changes the signing input; it is only valid with crit, refused above.
    if (header->contains("b64")) return reject(errc::bad_header, "b64");
    // RFC 8725 3.11: explicit typing. Absent (jose's default) or "JWT" (RFC 7519 5.1, case-insensitive).
    if (auto typ = header->find("typ"); typ != header->end()) {
        if (!typ->is_string() || !(iequals(typ->get_ref<const std::string&>(), "JWT") ||
                                   iequals(typ->get_ref<const std::string&>(), "application/jwt"))) {
            return reject(errc::bad_header, "typ");
        }
    }
    // jku, jwk, x5u, x5c are never used to find a key (RFC 8725 3.10): only our keyring is trusted.

    const Jwk* key = nullptr;
    if (auto kid = header->find("kid"); kid != header->end()) {
        if (!kid->is_string() || kid->get_ref<const std::string&>().empty())
            return reject(errc::bad_header, "kid");
        key = keys.find(kid->get_ref<const std::string&>());
        if (key == nullptr) return reject(errc::unknown_kid, kid->get<std::string>());
    } else {
        // No kid: acceptable only when exactly one trusted key could verify a token with this alg.
        const auto candidates = keys.keys_for(*alg);
        if (candidates.empty() && !keys.empty()) return reject(errc::alg_mismatch, to_string(*alg));
        if (candidates.size() != 1)
            return reject(errc::unknown_kid, "no kid and not exactly one candidate key");
        key = candidates.front();
    }
    // The algorithm-confusion defence: an HS256 header cannot make an Ed25519 public key an HMAC secret.
    if (key->alg() != *alg) return reject(errc::alg_mismatch, to_string(*alg));

    const auto sig_input = d->parts.signing_input;
    const bool good = *alg == Algorithm::hs256
                          ? detail::hs256_verify(key->secret().data(), key->secret().size(), sig_input,
                                                 d->signature.data(), d->signature.size())
                          : detail::ed25519_verify(key->public_key().data(), sig_input, d->signature.data(),
                                                   d->signature.size());
    if (!good) return reject(errc::bad_signature);

    // Only now, with the signature verified, is the payload parsed (RFC 7519 7.2 step 10).
    auto payload = detail::parse_strict_object(as_text(d->payload), limits.max_json_depth);
    if (!payload) return reject(errc::bad_json, "payload");

    std::vector<std::string> audience;
    detail::ClaimError err{};
    auto claims = detail::claims_from_json(*payload, opts.expected_type, limits, audience, err);
    if (!claims) return reject(err.code, err.claim);
    if (auto e = detail::check_structure(*claims, limits)) return reject(e->code, e->claim);

    // RFC 7519 4.1.1: the issuer is compared exactly.
    if (claims->issuer != opts.issuer) return reject(errc::wrong_issuer, claims->issuer);
    // RFC 7519 4.1.4/4.1.5/4.1.6 with leeway; dates are bounded, so the sums cannot overflow.
    const std::int64_t now = opts.now;
    const std::int64_t leeway = opts.leeway_s;
    if (now >= claims->expires_at + leeway) return reject(errc::expired);
    if (claims->not_before && now + leeway < *claims->not_before) return reject(errc::not_yet_valid);
    if (claims->issued_at > now + leeway) return reject(errc::issued_in_future);
    // Audience binding: a P2P token names exactly the node it is for.
    if (!opts.node_id.empty() && !claims->node_id.empty() && claims->node_id != opts.node_id) {
        return reject(errc::wrong_node, "node_id");
    }
    // RFC 7519 4.1.3: when aud is present, we must be in it.
    if (!audience.empty() && std::find(audience.begin(), audience.end(), opts.node_id) == audience.end()) {
        return reject(errc::wrong_node, "aud");
    }

    Verified ok;
    ok.claims = std::move(*claims);
    return ok;
}

std::optional<Unverified> decode_unverified(std::string_view token, std::error_code& ec,
                                            const Limits& limits) {
    ec.clear();
    errc code{};
    auto d = decode(token, limits, code);
    if (!d) {
        ec = code;
        return std::nullopt;
    }
    Unverified u{std::string(as_text(d->header)), std::string(as_text(d->payload))};
    if (!detail::parse_strict_object(u.header_json, limits.max_json_depth) ||
        !detail::parse_strict_object(u.payload_json, limits.max_json_depth)) {
        ec = errc::bad_json;
        return std::nullopt;
    }
    return u;
}

std::optional<Claims> read_unverified_claims(std::string_view token, TokenType expected, std::error_code& ec,
                                             const Limits& limits) {
    auto u = decode_unverified(token, ec, limits);
    if (!u) return std::nullopt;
    auto payload = detail::parse_strict_object(u->payload_json, limits.max_json_depth);
    if (!payload) {
        ec = errc::bad_json;
        return std::nullopt;
    }
    std::vector<std::string> audience;
    detail::ClaimError err{};
    auto claims = detail::claims_from_json(*payload, expected, limits, audience, err);
    if (!claims) ec = err.code;
    return claims;
}

std::optional<std::string> mint(const Claims& claims, const Jwk& key, std::error_code& ec,
                                std::string* detail, const Limits& limits) {
    ec.clear();
    if (!key.can_sign()) {
        ec = errc::no_signing_key;
        return std::nullopt;
    }
    if (auto e = detail::check_structure(claims, limits)) {
        ec = e->code;
        if (detail != nullptr) *detail = e->claim;
        return std::nullopt;
    }
    json header = {{"alg", to_string(key.alg())}, {"typ", "JWT"}};
    if (!key.kid().empty()) header["kid"] = key.kid();
    std::string token = detail::base64url_encode(header.dump());
    token += '.';
    token += detail::base64url_encode(detail::claims_to_json(claims).dump());
    if (key.alg() == Algorithm::hs256) {
        std::array<std::uint8_t, 32> mac{};
        if (!detail::hmac_sha256(key.secret().data(), key.secret().size(), token, mac)) {
            ec = errc::crypto_failure;
            return std::nullopt;
        }
        token += '.';
        token += detail::base64url_encode(mac.data(), mac.size());
        OPENSSL_cleanse(mac.data(), mac.size());
    } else {
        std::array<std::uint8_t, 64> sig{};
        if (!detail::ed25519_sign(key.secret().data(), token, sig)) {
            ec = errc::crypto_failure;
            return std::nullopt;
        }
        token += '.';
        token += detail::base64url_encode(sig.data(), sig.size());
    }
    if (token.size() > limits.max_token_bytes) {
        ec = errc::too_large;
        return std::nullopt;
    }
    return token;
}

std::optional<std::string> mint(const Claims& claims, const Keyring& keys, std::error_code& ec,
                                std::string* detail, const Limits& limits) {
    const Jwk* key = keys.signing_key();
    if (key == nullptr) {
        ec = errc::no_signing_key;
        return std::nullopt;
    }
    return mint(claims, *key, ec, detail, limits);
}

}  // namespace cyxp2p::auth
