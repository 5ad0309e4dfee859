#include <cyxp2p/auth/errc.hpp>

namespace cyxp2p::auth {
namespace {

class Category final : public std::error_category {
  public:
    const char* name() const noexcept override { return "cyxp2p.auth"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::malformed:
                return "token is not a compact JWS (three base64url parts separated by '.'): check it was "
                       "copied whole";
            case errc::bad_base64:
                return "a token part is not canonical unpadded base64url (RFC 7515 2): no '=', spaces or "
                       "'+/' allowed";
            case errc::bad_json:
                return "token header or payload is not a strict JSON object (duplicate member, bad UTF-8, "
                       "too deep, or not an object)";
            case errc::too_large:
                return "token is larger than the configured limit (default 8 KiB): it is not a CyxWiz token";
            case errc::bad_header:
                return "a JOSE header parameter has the wrong type or value";
            case errc::unsupported_alg:
                return "token alg is not accepted: only HS256 and EdDSA are, and 'none' never is";
            case errc::alg_mismatch:
                return "token alg differs from the algorithm its key is bound to (possible "
                       "algorithm-confusion attack)";
            case errc::unknown_kid:
                return "no trusted key matches the token's kid: refresh the issuer's JWKS or check the key "
                       "was not retired";
            case errc::crit_unsupported:
                return "token header lists a critical extension (crit) this verifier does not implement";
            case errc::bad_signature:
                return "token signature does not verify: it was altered or signed by another key";
            case errc::expired:
                return "token has expired: ask the Central Server for a new one";
            case errc::not_yet_valid:
                return "token is not valid yet (nbf in the future): check this machine's clock";
            case errc::issued_in_future:
                return "token was issued in the future (iat beyond the leeway): check the clocks of this "
                       "machine and the issuer";
            case errc::lifetime_too_long:
                return "token lifetime (exp - iat) exceeds the maximum for its type (1 hour for P2P tokens)";
            case errc::wrong_issuer:
                return "token issuer (iss) is not the configured issuer";
            case errc::wrong_node:
                return "token was issued for another node (node_id/aud): the engine must get a token for "
                       "this node";
            case errc::wrong_token_type:
                return "token_type is not the type expected here (a session, job or refresh token is not a "
                       "P2P token)";
            case errc::missing_claim:
                return "a required claim is missing";
            case errc::bad_claim:
                return "a claim has the wrong type or an invalid value";
            case errc::bad_key:
                return "key is not a valid JWK or JWK Set (RFC 7517)";
            case errc::weak_key:
                return "HS256 key is shorter than 32 bytes: generate one with 'p2p-probe key new --alg "
                       "HS256'";
            case errc::unsupported_key:
                return "key type is not supported: use kty 'oct' with HS256 or kty 'OKP' crv 'Ed25519' with "
                       "EdDSA";
            case errc::duplicate_kid:
                return "two keys share one kid (or more than one key has no kid): give every key a distinct "
                       "kid";
            case errc::no_signing_key:
                return "no key that can sign: minting needs the current private key (HS256 secret or Ed25519 "
                       "'d')";
            case errc::key_file_permissions:
                return "private key file is readable by group or others: chmod 600 it";
            case errc::io_error:
                return "key file could not be read or written";
            case errc::crypto_failure:
                return "OpenSSL or libsodium operation failed";
        }
        return "unknown auth error";
    }
};

}  // namespace

const std::error_category& category() noexcept {
    static const Category instance;
    return instance;
}

const char* to_string(errc e) noexcept {
    switch (e) {
        case errc::malformed:
            return "malformed";
        case errc::bad_base64:
            return "bad_base64";
        case errc::bad_json:
            return "bad_json";
        case errc::too_large:
            return "too_large";
        case errc::bad_header:
            return "bad_header";
        case errc::unsupported_alg:
            return "unsupported_alg";
        case errc::alg_mismatch:
            return "alg_mismatch";
        case errc::unknown_kid:
            return "unknown_kid";
        case errc::crit_unsupported:
            return "crit_unsupported";
        case errc::bad_signature:
            return "bad_signature";
        case errc::expired:
            return "expired";
        case errc::not_yet_valid:
            return "not_yet_valid";
        case errc::issued_in_future:
            return "issued_in_future";
        case errc::lifetime_too_long:
            return "lifetime_too_long";
        case errc::wrong_issuer:
            return "wrong_issuer";
        case errc::wrong_node:
            return "wrong_node";
        case errc::wrong_token_type:
            return "wrong_token_type";
        case errc::missing_claim:
            return "missing_claim";
        case errc::bad_claim:
            return "bad_claim";
        case errc::bad_key:
            return "bad_key";
        case errc::weak_key:
            return "weak_key";
        case errc::unsupported_key:
            return "unsupported_key";
        case errc::duplicate_kid:
            return "duplicate_kid";
        case errc::no_signing_key:
            return "no_signing_key";
        case errc::key_file_permissions:
            return "key_file_permissions";
        case errc::io_error:
            return "io_error";
        case errc::crypto_failure:
            return "crypto_failure";
    }
    return "unknown";
}

}  // namespace cyxp2p::auth
