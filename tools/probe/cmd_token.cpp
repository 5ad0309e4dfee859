// p2p-probe token mint|verify|decode: P2P tokens (compact JWS JWTs) as the Central Server mints them and a
// Node verifies them. See docs/tools.md and docs/auth.md.
#include <array>
#include <charconv>
#include <chrono>
#include <iostream>

#include <openssl/rand.h>

#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/auth/scope.hpp>
#include <cyxp2p/net/errc.hpp>

#include "../common/cli.hpp"
#include "../common/local_checks.hpp"
#include "commands.hpp"

namespace cyxp2p::tools::probe {
namespace {

using nlohmann::json;

// What an engine needs to run a job, watch it and fetch its model; `--scope` narrows or widens it.
constexpr std::array<std::string_view, 3> kDefaultScopes = {
    auth::scope::job_execute, auth::scope::metrics_read, auth::scope::content_read};

std::string join_default_scopes() {
    std::string out;
    for (auto sc : kDefaultScopes) out += (out.empty() ? "" : ",") + std::string(sc);
    return out;
}

// Per-subcommand help: every option with its default, and for mint the scope each method needs.
std::string mint_usage() {
    const auth::Limits l;
    std::string u =
        "usage: p2p-probe token mint --key PRIVATE.jwk --sub SUB --node-id NODE [options] [--json]\n\n"
        "Prints a token signed by the key, as the Central Server mints it.\n\n"
        "  --key FILE        private JWK ('p2p-probe key new'); must be mode 0600\n"
        "  --sub SUB         the user (token subject)\n"
        "  --node-id NODE    the only node that accepts the token\n"
        "  --scope a,b       scopes granted [default: " +
        join_default_scopes() +
        "]\n"
        "  --ttl SECONDS     lifetime [default and maximum: the type's: p2p " +
        std::to_string(l.max_lifetime_p2p_s) + ", session " + std::to_string(l.max_lifetime_session_s) +
        ", job " + std::to_string(l.max_lifetime_job_s) + ", refresh " +
        std::to_string(l.max_lifetime_refresh_s) +
        "]\n"
        "  --type T          p2p, session, job or refresh [default: p2p]\n"
        "  --issuer ISS      [default: " +
        std::string(auth::kDefaultIssuer) +
        "]\n"
        "  --session-id ID   [default: random, for p2p and session tokens]\n"
        "  --job-id ID       job tokens\n"
        "  --jti ID          token id [default: random for refresh tokens]\n"
        "  --cnf-x5t B64URL  bind the token to the engine's client certificate (RFC 8705)\n"
        "  --node-pin PIN    vouch for the node's pin (engines may then use --pin-from-token)\n"
        "  --now T           issue time, Unix seconds [default: this machine's clock]\n"
        "  --json            print the token and its claims as JSON\n\n"
        "Scope each method needs (a node refuses the stream with 'forbidden' otherwise):\n";
    for (const auto& [method, scope] : auth::method_scopes()) {
        u += "  " + std::string(method) + std::string(method.size() < 20 ? 20 - method.size() : 1, ' ') +
             std::string(scope) + "\n";
    }
    return u;
}

std::string verify_usage() {
    return "usage: p2p-probe token verify --keys JWKS --node-id NODE [options] TOKEN|- [--json]\n\n"
           "Checks the token exactly as a node does (docs/auth.md): exit 0 and the claims as JSON, or exit "
           "13\n"
           "and the error code name (bad_signature, expired, wrong_node, ...). The token is never "
           "printed.\n\n"
           "  --keys JWKS     the Central Server's key set\n"
           "  --node-id NODE  the node verifying (required for p2p tokens)\n"
           "  --issuer ISS    [default: " +
           std::string(auth::kDefaultIssuer) +
           "]\n"
           "  --type T        p2p, session, job or refresh [default: p2p]\n"
           "  --now T         Unix seconds [default: this machine's clock]\n"
           "  TOKEN|-         the token, or - to read it from standard input (whitespace around it "
           "ignored)\n"
           "  --json          print the result as JSON\n";
}

constexpr const char* kDecodeUsage =
    "usage: p2p-probe token decode TOKEN|- [--json]\n\n"
    "Prints header and claims WITHOUT verifying anything (labelled UNVERIFIED). - reads standard input.\n"
    "  --json   print header and claims as one JSON object\n";

constexpr const char* kUsage =
    "usage: p2p-probe token mint --key PRIVATE.jwk --sub SUB --node-id NODE [--session-id ID] [--scope a,b]\n"
    "                            [--ttl SECONDS] [--type p2p|session|job|refresh] [--issuer ISS]\n"
    "                            [--job-id ID] [--jti ID] [--cnf-x5t B64URL] [--node-pin sha256//...] [--now "
    "T]\n"
    "       p2p-probe token verify --keys JWKS --node-id NODE [--issuer ISS] [--type TYPE] [--now T] "
    "TOKEN|-\n"
    "       p2p-probe token decode TOKEN|-\n"
    "\n"
    "mint    prints a token signed by the key (ttl defaults to the type's maximum: p2p 3600 s).\n"
    "verify  checks the token strictly (docs/auth.md); exit 0 and the claims as JSON, or exit 13 and the\n"
    "        error code name (bad_signature, expired, ...). T is Unix seconds (default: this machine's "
    "clock).\n"
    "decode  prints header and claims WITHOUT verifying anything.\n"
    "TOKEN '-' reads the token from standard input. Add --json for machine-readable output.\n"
    "'p2p-probe token mint|verify|decode --help' lists each command's options and defaults.\n";

std::optional<std::int64_t> parse_int(const std::string& s) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return v;
}

std::int64_t clock_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string random_id() {
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("RAND_bytes failed");
    static constexpr char hex[] = "0123456789abcdef";
    std::string s;
    for (unsigned char c : b) {
        s += hex[c >> 4];
        s += hex[c & 15];
    }
    return s;
}

// TOKEN or - (standard input), checked for syntax without ever printing it.
std::optional<std::string> token_argument(const Args& args, InputError& error) {
    if (args.positionals().size() != 2) {
        error = {Exit::usage, "usage", kUsage};
        return std::nullopt;
    }
    return read_token("TOKEN", args.positionals()[1], TokenSource::inline_or_stdin, error);
}

json claims_json(const auth::Claims& c) {
    json j{{"iss", c.issuer},
           {"sub", c.subject},
           {"iat", c.issued_at},
           {"exp", c.expires_at},
           {"token_type", auth::to_string(c.type)}};
    if (c.not_before) j["nbf"] = *c.not_before;
    if (!c.node_id.empty()) j["node_id"] = c.node_id;
    if (!c.session_id.empty()) j["session_id"] = c.session_id;
    if (!c.job_id.empty()) j["job_id"] = c.job_id;
    if (!c.token_id.empty()) j["jti"] = c.token_id;
    if (!c.scope.empty() || c.type == auth::TokenType::p2p) j["scope"] = c.scope;
    if (c.cnf_x5t_s256) j["cnf"] = {{"x5t#S256", *c.cnf_x5t_s256}};
    if (c.node_pin) j["node_pin"] = *c.node_pin;
    return j;
}

int key_failure(const Args& args, const std::string& path, const std::error_code& ec,
                const std::string& detail) {
    const Exit exit = ec == auth::errc::io_error ? Exit::io : Exit::bad_input;
    std::string msg = path + ": " + ec.message();
    if (!detail.empty() && detail != path) msg += " [" + detail + "]";
    return fail(&args, exit, net::error_name(ec, "error"), msg);
}

int mint(const Args& args) {
    if (!args.has("--key") || !args.has("--sub") || !args.has("--node-id") ||
        args.positionals().size() != 1) {
        return fail(&args, Exit::usage, "usage", kUsage);
    }
    auth::Claims c;
    auto type = auth::token_type_from_string(args.get("--type").value_or("p2p"));
    if (!type) return fail(&args, Exit::usage, "usage", "--type must be p2p, session, job or refresh");
    c.type = *type;
    const auth::Limits limits;
    const std::int64_t max_ttl = *type == auth::TokenType::p2p       ? limits.max_lifetime_p2p_s
                                 : *type == auth::TokenType::session ? limits.max_lifetime_session_s
                                 : *type == auth::TokenType::job     ? limits.max_lifetime_job_s
                                                                     : limits.max_lifetime_refresh_s;
    auto ttl = parse_int(args.get("--ttl").value_or(std::to_string(max_ttl)));
    auto now = args.has("--now") ? parse_int(*args.get("--now")) : std::optional<std::int64_t>(clock_now());
    if (!ttl || *ttl <= 0)
        return fail(&args, Exit::usage, "usage", "--ttl must be a positive number of seconds");
    if (!now || *now < 0) return fail(&args, Exit::usage, "usage", "--now must be Unix seconds");
    c.issuer = args.get("--issuer").value_or(std::string(auth::kDefaultIssuer));
    c.subject = *args.get("--sub");
    c.node_id = *args.get("--node-id");
    c.issued_at = *now;
    c.expires_at = *now + *ttl;
    const bool wants_session = *type == auth::TokenType::p2p || *type == auth::TokenType::session;
    c.session_id = args.get("--session-id").value_or(wants_session ? random_id() : "");
    c.job_id = args.get("--job-id").value_or("");
    c.token_id = args.get("--jti").value_or(*type == auth::TokenType::refresh ? random_id() : "");
    if (auto s = args.get("--scope")) {
        for (std::size_t pos = 0; pos <= s->size();) {
            const auto comma = s->find(',', pos);
            const auto end = comma == std::string::npos ? s->size() : comma;
            if (end > pos) c.scope.push_back(s->substr(pos, end - pos));
            pos = end + 1;
        }
    } else if (*type == auth::TokenType::p2p) {
        c.scope.assign(kDefaultScopes.begin(), kDefaultScopes.end());
    }
    if (auto x = args.get("--cnf-x5t")) c.cnf_x5t_s256 = *x;
    if (auto p = args.get("--node-pin")) c.node_pin = *p;

    const std::string key_path = *args.get("--key");
    std::error_code ec;
    std::string detail;
    auto key = auth::load_jwk_file(key_path, ec, &detail);
    if (!key) return key_failure(args, key_path, ec, detail);
    auto token = auth::mint(c, *key, ec, &detail);
    if (!token) {
        std::string msg = ec.message();
        if (!detail.empty()) msg += " [" + detail + "]";
        return fail(&args, Exit::bad_input, net::error_name(ec, "error"), msg);
    }
    if (args.json()) {
        print_json({{"token", *token},
                    {"kid", key->kid()},
                    {"alg", auth::to_string(key->alg())},
                    {"claims", claims_json(c)}});
    } else {
        std::cout << *token << '\n';
    }
    return 0;
}

int verify(const Args& args) {
    if (!args.has("--keys")) return fail(&args, Exit::usage, "usage", kUsage);
    InputError error;
    auto token = token_argument(args, error);
    if (!token) return fail(&args, error);
    auth::VerifyOptions o;
    auto type = auth::token_type_from_string(args.get("--type").value_or("p2p"));
    if (!type) return fail(&args, Exit::usage, "usage", "--type must be p2p, session, job or refresh");
    o.expected_type = *type;
    o.node_id = args.get("--node-id").value_or("");
    if (*type == auth::TokenType::p2p && o.node_id.empty()) {
        return fail(&args, Exit::usage, "usage", "--node-id is required to verify a P2P token");
    }
    o.issuer = args.get("--issuer").value_or(std::string(auth::kDefaultIssuer));
    auto now = args.has("--now") ? parse_int(*args.get("--now")) : std::optional<std::int64_t>(clock_now());
    if (!now || *now < 0) return fail(&args, Exit::usage, "usage", "--now must be Unix seconds");
    o.now = *now;

    const std::string keys_path = *args.get("--keys");
    std::error_code ec;
    std::string detail;
    auto ring = auth::Keyring::load(keys_path, ec, &detail);
    if (!ring) return key_failure(args, keys_path, ec, detail);
    auto r = auth::verify(*token, *ring, o);
    if (!r)
        return fail(&args, Exit::token_rejected, net::error_name(r.error, "error"),
                    "token rejected: " + r.message());
    auto claims = claims_json(*r.claims);
    if (args.json()) {
        print_json({{"verified", true}, {"claims", claims}});
    } else {
        std::cout << claims.dump(2) << '\n';
    }
    return 0;
}

int decode(const Args& args) {
    InputError error;
    auto token = token_argument(args, error);
    if (!token) return fail(&args, error);
    std::error_code ec;
    auto u = auth::decode_unverified(*token, ec);
    if (!u)
        return fail(&args, Exit::bad_input, net::error_name(ec, "error"),
                    "cannot decode token: " + ec.message());
    const json header = json::parse(u->header_json);
    const json payload = json::parse(u->payload_json);
    constexpr const char* kWarning = "UNVERIFIED: signature, issuer, expiry and node were NOT checked";
    if (args.json()) {
        print_json({{"verified", false}, {"warning", kWarning}, {"header", header}, {"payload", payload}});
    } else {
        std::cout << "# " << kWarning << "\n# header (unverified)\n"
                  << header.dump(2) << "\n# payload (unverified)\n"
                  << payload.dump(2) << '\n';
    }
    return 0;
}

}  // namespace

int cmd_token(const std::vector<std::string>& argv, std::size_t first) {
    std::string error;
    auto args = Args::parse(argv, first,
                            {{"--key", true},
                             {"--keys", true},
                             {"--sub", true},
                             {"--node-id", true},
                             {"--session-id", true},
                             {"--scope", true},
                             {"--ttl", true},
                             {"--type", true},
                             {"--issuer", true},
                             {"--job-id", true},
                             {"--jti", true},
                             {"--cnf-x5t", true},
                             {"--node-pin", true},
                             {"--now", true}},
                            error);
    if (!args) return fail(nullptr, Exit::usage, "usage", error + "\n" + kUsage);
    if (args->positionals().empty()) {
        (args->help() ? std::cout : std::cerr) << kUsage;
        return args->help() ? 0 : static_cast<int>(Exit::usage);
    }
    const std::string& sub = args->positionals()[0];
    if (args->help()) {
        std::cout << (sub == "mint"     ? mint_usage()
                      : sub == "verify" ? verify_usage()
                      : sub == "decode" ? std::string(kDecodeUsage)
                                        : std::string(kUsage));
        return 0;
    }
    if (sub == "mint") return mint(*args);
    if (sub == "verify") return verify(*args);
    if (sub == "decode") return decode(*args);
    return fail(&*args, Exit::usage, "usage", "unknown token command '" + sub + "'\n" + kUsage);
}

}  // namespace cyxp2p::tools::probe
