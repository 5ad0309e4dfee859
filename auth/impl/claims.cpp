// Claims of the CyxWiz token types: parsing (RFC 7519 4.1) and the per-type policy (RFC 8725 3.12).
#include <algorithm>
#include <set>

#include <cyxp2p/auth/claims.hpp>
#include <cyxp2p/auth/detail/base64url.hpp>
#include <cyxp2p/auth/detail/claims_codec.hpp>

namespace cyxp2p::auth {

using nlohmann::json;

const char* to_string(TokenType t) noexcept {
    switch (t) {
        case TokenType::p2p:
            return "p2p";
        case TokenType::session:
            return "session";
        case TokenType::job:
            return "job";
        case TokenType::refresh:
            return "refresh";
    }
    return "unknown";
}

std::optional<TokenType> token_type_from_string(std::string_view s) noexcept {
    for (auto t : {TokenType::p2p, TokenType::session, TokenType::job, TokenType::refresh}) {
        if (s == to_string(t)) return t;
    }
    return std::nullopt;
}

bool Claims::has_scope(std::string_view s) const {
    return std::find(scope.begin(), scope.end(), s) != scope.end();
}

namespace detail {
namespace {

// Which claims each type requires (R) or forbids (F); the seed's token table, made exclusive.
struct Rules {
    bool node_id, session_id, scope, job_id, jti, scope_forbidden;
};
Rules rules_for(TokenType t) {
    switch (t) {
        case TokenType::p2p:
            return {true, true, true, false, false, false};
        case TokenType::session:
            return {false, true, false, false, false, true};
        case TokenType::job:
            return {false, false, true, true, false, false};
        case TokenType::refresh:
            return {false, false, false, false, true, true};
    }
    return {true, true, true, true, true, true};
}

bool valid_node_pin(std::string_view pin) {
    // "sha256//" + canonical standard base64 of 32 bytes (43 characters and one '='), the curl form.
    constexpr std::string_view prefix = "sha256//";
    if (pin.size() != prefix.size() + 44 || pin.substr(0, prefix.size()) != prefix || pin.back() != '=')
        return false;
    constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const auto b64 = pin.substr(prefix.size(), 43);
    for (char c : b64) {
        if (alphabet.find(c) == std::string_view::npos) return false;
    }
    return (alphabet.find(b64.back()) & 3U) == 0;  // unused low bits zero: one encoding per digest
}

bool valid_x5t(std::string_view t) {
    auto bytes = base64url_decode(t);
    return bytes && bytes->size() == 32;
}

}  // namespace

std::int64_t max_lifetime(TokenType t, const Limits& limits) noexcept {
    switch (t) {
        case TokenType::p2p:
            return limits.max_lifetime_p2p_s;
        case TokenType::session:
            return limits.max_lifetime_session_s;
        case TokenType::job:
            return limits.max_lifetime_job_s;
        case TokenType::refresh:
            return limits.max_lifetime_refresh_s;
    }
    return 0;
}

std::optional<Claims> claims_from_json(const json& p, TokenType expected, const Limits& limits,
                                       std::vector<std::string>& audience, ClaimError& err) {
    auto refuse = [&](errc code, std::string claim) {
        err = {code, std::move(claim)};
        return std::nullopt;
    };
    // A required non-empty string claim.
    auto str = [&](const char* name, std::string& out) -> bool {
        auto it = p.find(name);
        if (it == p.end()) {
            err = {errc::missing_claim, name};
            return false;
        }
        const auto* s = it->get_ptr<const std::string*>();
        if (s == nullptr || s->empty()) {
            err = {errc::bad_claim, name};
            return false;
        }
        out = *s;
        return true;
    };
    // RFC 7519 2 NumericDate, restricted to integers in [0, max_numeric_date]: no fractions, no exponents,
    // no strings, nothing that overflows when the leeway is added.
    auto date = [&](const char* name, std::int64_t& out) -> bool {
        const json& v = p.at(name);
        if (v.is_number_unsigned()) {
            const auto u = v.get<std::uint64_t>();
            if (u <= static_cast<std::uint64_t>(limits.max_numeric_date)) {
                out = static_cast<std::int64_t>(u);
                return true;
            }
        } else if (v.is_number_integer()) {
            const auto s = v.get<std::int64_t>();
            if (s >= 0 && s <= limits.max_numeric_date) {
                out = s;
                return true;
            }
        }
        err = {errc::bad_claim, name};
        return false;
    };

    Claims c;
    // token_type first, so a token of another type is reported as such and not as a missing claim.
    std::string type;
    if (!str("token_type", type)) return std::nullopt;
    auto parsed = token_type_from_string(type);
    if (!parsed || *parsed != expected) return refuse(errc::wrong_token_type, "token_type");
    c.type = *parsed;
    const Rules rules = rules_for(c.type);

    for (const char* name : {"iss", "sub", "iat", "exp"}) {
        if (!p.contains(name)) return refuse(errc::missing_claim, name);
    }
    if (!str("iss", c.issuer) || !str("sub", c.subject)) return std::nullopt;
    if (!date("iat", c.issued_at) || !date("exp", c.expires_at)) return std::nullopt;
    if (p.contains("nbf")) {
        std::int64_t nbf = 0;
        if (!date("nbf", nbf)) return std::nullopt;
        c.not_before = nbf;
    }
    if (rules.node_id && !str("node_id", c.node_id)) return std::nullopt;
    if (rules.session_id && !str("session_id", c.session_id)) return std::nullopt;
    if (rules.job_id && !str("job_id", c.job_id)) return std::nullopt;
    if (rules.jti && !str("jti", c.token_id)) return std::nullopt;
    if (!rules.node_id && p.contains("node_id") && !str("node_id", c.node_id)) return std::nullopt;
    if (!rules.session_id && p.contains("session_id") && !str("session_id", c.session_id))
        return std::nullopt;

    if (rules.scope_forbidden && p.contains("scope")) return refuse(errc::bad_claim, "scope");
    if (rules.scope) {
        auto it = p.find("scope");
        if (it == p.end()) return refuse(errc::missing_claim, "scope");
        // The seed's form: a JSON array of scope names (not RFC 8693's space-separated string).
        if (!it->is_array() || it->size() > limits.max_scopes) return refuse(errc::bad_claim, "scope");
        std::set<std::string> seen;
        for (const auto& s : *it) {
            if (!s.is_string() || s.get_ref<const std::string&>().empty())
                return refuse(errc::bad_claim, "scope");
            if (!seen.insert(s.get<std::string>()).second) return refuse(errc::bad_claim, "scope");
            c.scope.push_back(s.get<std::string>());
        }
    }

    // RFC 7519 4.1.3: aud is a string or an array of strings.
    if (auto it = p.find("aud"); it != p.end()) {
        if (it->is_string()) {
            audience.push_back(it->get<std::string>());
        } else if (it->is_array() && !it->empty()) {
            for (const auto& a : *it) {
                if (!a.is_string()) return refuse(errc::bad_claim, "aud");
                audience.push_back(a.get<std::string>());
            }
        } else {
            return refuse(errc::bad_claim, "aud");
        }
    }

    // RFC 7800 3.1 / RFC 8705 3.1: cnf binds the token to a key. We can enforce x5t#S256 only; a cnf we
    // cannot enforce is refused rather than ignored (the issuer meant the token to be bound).
    if (auto it = p.find("cnf"); it != p.end()) {
        if (!it->is_object() || it->size() != 1 || !it->contains("x5t#S256"))
            return refuse(errc::bad_claim, "cnf");
        const json& t = (*it)["x5t#S256"];
        if (!t.is_string() || !valid_x5t(t.get_ref<const std::string&>()))
            return refuse(errc::bad_claim, "cnf");
        c.cnf_x5t_s256 = t.get<std::string>();
    }
    if (auto it = p.find("node_pin"); it != p.end()) {
        if (!it->is_string() || !valid_node_pin(it->get_ref<const std::string&>()))
            return refuse(errc::bad_claim, "node_pin");
        c.node_pin = it->get<std::string>();
    }
    return c;
}

std::optional<ClaimError> check_structure(const Claims& c, const Limits& limits) {
    const Rules rules = rules_for(c.type);
    auto need = [](bool required, const std::string& v, const char* name) -> std::optional<ClaimError> {
        if (required && v.empty()) return ClaimError{errc::missing_claim, name};
        return std::nullopt;
    };
    if (c.issuer.empty()) return ClaimError{errc::missing_claim, "iss"};
    if (c.subject.empty()) return ClaimError{errc::missing_claim, "sub"};
    for (auto e :
         {need(rules.node_id, c.node_id, "node_id"), need(rules.session_id, c.session_id, "session_id"),
          need(rules.job_id, c.job_id, "job_id"), need(rules.jti, c.token_id, "jti")}) {
        if (e) return e;
    }
    if (rules.scope && c.scope.empty()) return ClaimError{errc::missing_claim, "scope"};
    if (rules.scope_forbidden && !c.scope.empty()) return ClaimError{errc::bad_claim, "scope"};
    if (c.scope.size() > limits.max_scopes) return ClaimError{errc::bad_claim, "scope"};
    for (const auto& d : {c.issued_at, c.expires_at, c.not_before.value_or(0)}) {
        if (d < 0 || d > limits.max_numeric_date) return ClaimError{errc::bad_claim, "exp"};
    }
    if (c.expires_at <= c.issued_at) return ClaimError{errc::bad_claim, "exp"};
    if (c.not_before && *c.not_before > c.expires_at) return ClaimError{errc::bad_claim, "nbf"};
    // RFC 8725 3.12 + the seed's table: a P2P token lives at most an hour, whatever exp says.
    if (c.expires_at - c.issued_at > max_lifetime(c.type, limits))
        return ClaimError{errc::lifetime_too_long, "exp"};
    if (c.cnf_x5t_s256 && !valid_x5t(*c.cnf_x5t_s256)) return ClaimError{errc::bad_claim, "cnf"};
    if (c.node_pin && !valid_node_pin(*c.node_pin)) return ClaimError{errc::bad_claim, "node_pin"};
    return std::nullopt;
}

json claims_to_json(const Claims& c) {
    const Rules rules = rules_for(c.type);
    json j;
    j["iss"] = c.issuer;
    j["sub"] = c.subject;
    j["iat"] = c.issued_at;
    j["exp"] = c.expires_at;
    if (c.not_before) j["nbf"] = *c.not_before;
    j["token_type"] = to_string(c.type);
    if (!c.node_id.empty()) j["node_id"] = c.node_id;
    if (!c.session_id.empty()) j["session_id"] = c.session_id;
    if (!c.job_id.empty()) j["job_id"] = c.job_id;
    if (!c.token_id.empty()) j["jti"] = c.token_id;
    if (rules.scope || !c.scope.empty()) j["scope"] = c.scope;
    if (c.cnf_x5t_s256) j["cnf"] = {{"x5t#S256", *c.cnf_x5t_s256}};
    if (c.node_pin) j["node_pin"] = *c.node_pin;
    return j;
}

}  // namespace detail
}  // namespace cyxp2p::auth
