// cyxp2p::auth against `jose` (npm, the most used JOSE library): tokens and JWKs jose makes verify here,
// tokens jose makes with bad claims are refused here with the right code, and tokens minted here verify
// in jose. Runs auth_jose_mint.mjs / auth_jose_verify.mjs with node.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cyxp2p/auth/jwt.hpp>

#include "support.hpp"

namespace cyxp2p::auth {
namespace {

using nlohmann::json;

constexpr std::int64_t kNow = 1'764'000'000;
constexpr const char* kNode = "node-interop";

json node_json(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"node"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = test::run(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
}

VerifyOptions options() {
    VerifyOptions o;
    o.now = kNow;
    o.node_id = kNode;
    return o;
}

class AuthJoseMinted : public ::testing::TestWithParam<std::string> {};

TEST_P(AuthJoseMinted, VerifiesHereWithTheRightCode) {
    const std::string alg = GetParam();
    const auto script = (test::interop_dir() / "auth_jose_mint.mjs").string();
    const json out = node_json({script, alg, std::to_string(kNow), kNode});
    std::error_code ec;
    auto jwks = Keyring::from_jwks(out["jwks"].dump(), ec);
    ASSERT_TRUE(jwks) << ec.message();
    auto bare = Keyring::from_jwks(out["bare_jwk"].dump(), ec);  // jose's exportJWK: no kid, no alg
    ASSERT_TRUE(bare) << ec.message();
    EXPECT_EQ(bare->keys().front().alg(), algorithm_from_string(alg));
    ASSERT_GE(out["cases"].size(), 20U);
    for (const auto& c : out["cases"]) {
        const auto& ring = c["keys"] == "bare" ? *bare : *jwks;
        auto r = verify(c["token"].get<std::string>(), ring, options());
        const std::string got = r ? "ok" : to_string(static_cast<errc>(r.error.value()));
        EXPECT_EQ(got, c["expect"].get<std::string>()) << alg << " case " << c["name"] << ": " << r.message();
        if (r && c["name"] == "good") {
            EXPECT_EQ(r.claims->subject, "user-jose");
            EXPECT_EQ(r.claims->session_id, "sess-jose");
            EXPECT_EQ(r.claims->scope, (std::vector<std::string>{"job:execute", "metrics:read"}));
        }
        if (r && c["name"] == "good_with_cnf_and_pin") {
            EXPECT_TRUE(r.claims->cnf_x5t_s256);
            EXPECT_TRUE(r.claims->node_pin);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, AuthJoseMinted, ::testing::Values("HS256", "EdDSA"));

Claims claims() {
    Claims c;
    c.subject = "user-ours";
    c.issued_at = kNow - 10;
    c.expires_at = kNow - 10 + 3600;
    c.node_id = kNode;
    c.session_id = "sess-ours";
    c.scope = {"job:execute"};
    c.cnf_x5t_s256 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    return c;
}

TEST(AuthJoseVerifies, TokensMintedHere) {
    test::TempDir dir;
    const auto script = (test::interop_dir() / "auth_jose_verify.mjs").string();
    for (auto alg : {Algorithm::hs256, Algorithm::eddsa}) {
        Keyring ring;
        ASSERT_FALSE(ring.rotate(Jwk::generate(alg, "cyx-1")));
        std::error_code ec;
        auto token = mint(claims(), ring, ec);
        ASSERT_TRUE(token) << ec.message();
        auto expired_claims = claims();
        expired_claims.issued_at = kNow - 7200;
        expired_claims.expires_at = kNow - 3600;
        auto expired = mint(expired_claims, ring, ec);
        ASSERT_TRUE(expired);
        auto tampered = *token;
        char& c = tampered[tampered.find('.') + 5];
        c = c == 'A' ? 'B' : 'A';  // still base64url, different payload

        // EdDSA: the public JWKS we publish; HS256: the shared secret JWK (there is no public form).
        const auto key_file = dir / (std::string(to_string(alg)) + ".json");
        test::write_file(
            key_file, alg == Algorithm::eddsa ? ring.to_public_jwks() : *ring.keys().front().to_json(true));
        const json out = node_json(
            {script, key_file.string(), to_string(alg), std::to_string(kNow), *token, *expired, tampered});
        ASSERT_EQ(out.size(), 3U);
        ASSERT_TRUE(out[0]["ok"].get<bool>()) << to_string(alg) << ": " << out[0].dump();
        EXPECT_EQ(out[0]["header"]["kid"], "cyx-1");
        EXPECT_EQ(out[0]["payload"]["sub"], "user-ours");
        EXPECT_EQ(out[0]["payload"]["node_id"], kNode);
        EXPECT_EQ(out[0]["payload"]["token_type"], "p2p");
        EXPECT_EQ(out[0]["payload"]["cnf"]["x5t#S256"], claims().cnf_x5t_s256.value());
        EXPECT_EQ(out[1]["code"], "ERR_JWT_EXPIRED") << out[1].dump();
        EXPECT_FALSE(out[2]["ok"].get<bool>()) << out[2].dump();
    }
}

}  // namespace
}  // namespace cyxp2p::auth
