// p2p-probe key new --alg HS256|EdDSA [--kid K] --out PRIVATE.jwk [--force]
//   Writes a private JWK (mode 0600) and, beside it, the JWK Set verifiers load (PRIVATE.jwks).
#include <iostream>

#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/auth/jwk.hpp>
#include <cyxp2p/auth/keyring.hpp>

#include "../common/cli.hpp"
#include "commands.hpp"

namespace cyxp2p::tools::probe {
namespace {

constexpr const char* kUsage =
    "usage: p2p-probe key new --alg HS256|EdDSA [--kid KID] --out PRIVATE.jwk [--force] [--json]\n"
    "\n"
    "Creates a token signing key for the Central Server's role. PRIVATE.jwk (mode 0600) holds the private\n"
    "key; the JWK Set that nodes verify with is written beside it as PRIVATE.jwks: for EdDSA the public\n"
    "key (mode 0644, safe to publish); for HS256 the shared secret itself (mode 0600: HS256 has no public\n"
    "key, which is why EdDSA is recommended).\n"
    "  --alg HS256|EdDSA   the signing algorithm [required; EdDSA recommended]\n"
    "  --kid KID           key id, 1-128 characters, named in every token's header [default: the key's\n"
    "                      RFC 7638 thumbprint]\n"
    "  --out PRIVATE.jwk   where to write the private key; the JWKS goes to PRIVATE.jwks (or OUT.jwks when\n"
    "                      OUT does not end in .jwk) [required]\n"
    "  --force             replace existing files [default: keep them, exit 3]\n"
    "  --json              print kid, alg, private_key, jwks and jwks_is_secret as JSON\n";

std::string jwks_path_for(const std::string& out) {
    const std::string ext = ".jwk";
    if (out.size() > ext.size() && out.compare(out.size() - ext.size(), ext.size(), ext) == 0)
        return out + "s";
    return out + ".jwks";
}

}  // namespace

int cmd_key(const std::vector<std::string>& argv, std::size_t first) {
    std::string error;
    auto args = Args::parse(argv, first,
                            {{"--alg", true}, {"--kid", true}, {"--out", true}, {"--force", false}}, error);
    if (!args) return fail(nullptr, Exit::usage, "usage", error + "\n" + kUsage);
    if (args->help()) {
        std::cout << kUsage;
        return 0;
    }
    if (args->positionals().size() != 1 || args->positionals()[0] != "new" || !args->has("--alg") ||
        !args->has("--out")) {
        return fail(&*args, Exit::usage, "usage", kUsage);
    }
    const auto alg = auth::algorithm_from_string(*args->get("--alg"));
    if (!alg) return fail(&*args, Exit::usage, "usage", "--alg must be HS256 or EdDSA");
    const std::string out = *args->get("--out");
    const std::string jwks_path = jwks_path_for(out);

    auto key = auth::Jwk::generate(*alg, "");
    const std::string kid = args->get("--kid").value_or(key.thumbprint());
    if (kid.empty() || kid.size() > auth::Limits{}.max_kid_bytes) {
        return fail(&*args, Exit::usage, "usage", "--kid must be 1-128 characters");
    }
    // Re-create the key object with its kid (the bytes stay the same).
    std::error_code ec;
    auto priv_json = nlohmann::json::parse(*key.to_json(true));
    priv_json["kid"] = kid;
    auto with_kid = auth::Jwk::parse(priv_json.dump(), ec);
    if (!with_kid) return fail(&*args, Exit::failure, "internal", ec.message());

    auth::Keyring ring;
    ring.add(*with_kid);
    const bool secret_jwks = *alg == auth::Algorithm::hs256;
    const std::string jwks =
        secret_jwks ? nlohmann::json{{"keys", {priv_json}}}.dump() : ring.to_public_jwks();
    const bool force = args->has("--force");
    if (auto e = auth::write_key_file(out, priv_json.dump(), true, force)) {
        return fail(&*args, Exit::io, "io_error", "cannot write " + out + " (exists? use --force)");
    }
    if (auto e = auth::write_key_file(jwks_path, jwks, secret_jwks, force)) {
        return fail(&*args, Exit::io, "io_error", "cannot write " + jwks_path + " (exists? use --force)");
    }
    if (args->json()) {
        print_json({{"kid", kid},
                    {"alg", auth::to_string(*alg)},
                    {"private_key", out},
                    {"jwks", jwks_path},
                    {"jwks_is_secret", secret_jwks}});
    } else {
        std::cout << "kid:     " << kid << "\nalg:     " << auth::to_string(*alg) << "\nprivate: " << out
                  << " (0600)\njwks:    " << jwks_path
                  << (secret_jwks ? " (0600, contains the shared secret)" : " (public)") << '\n';
    }
    return 0;
}

}  // namespace cyxp2p::tools::probe
