// Keyring: JWKS (RFC 7517 5), rotation (current + previous verify, only current signs), removal, minting.
#include <gtest/gtest.h>

#include <cyxp2p/auth/jwt.hpp>

#include "support.hpp"
#include "token_kit.hpp"

namespace cyxp2p::auth {
namespace {

using namespace testkit;
using nlohmann::json;

Keyring public_ring(const Keyring& signer) {
    std::error_code ec;
    auto ring = Keyring::from_jwks(signer.to_public_jwks(), ec);
    EXPECT_TRUE(ring) << ec.message();
    return ring ? std::move(*ring) : Keyring{};
}

TEST(AuthKeyring, RotationKeepsPreviousKeyVerifyingUntilRemoved) {
    Keyring signer;
    ASSERT_FALSE(signer.rotate(Jwk::generate(Algorithm::eddsa, "2025-10")));
    std::error_code ec;
    const auto old_token = mint(good_claims(), signer, ec);
    ASSERT_TRUE(old_token) << ec.message();

    ASSERT_FALSE(signer.rotate(Jwk::generate(Algorithm::eddsa, "2025-11")));
    EXPECT_EQ(signer.signing_key()->kid(), "2025-11");
    const auto new_token = mint(good_claims(), signer, ec);
    ASSERT_TRUE(new_token);
    EXPECT_NE(json::parse(decode_unverified(*new_token, ec)->header_json)["kid"], "2025-10");

    Keyring verifier = public_ring(signer);
    EXPECT_EQ(verifier.keys().size(), 2U);
    EXPECT_TRUE(verify(*old_token, verifier, options()));
    EXPECT_TRUE(verify(*new_token, verifier, options()));

    // The previous key is retired: its tokens stop verifying, the current key's keep verifying.
    ASSERT_TRUE(verifier.remove("2025-10"));
    auto r = verify(*old_token, verifier, options());
    EXPECT_EQ(r.error, make_error_code(errc::unknown_kid));
    EXPECT_EQ(r.detail, "2025-10");
    EXPECT_TRUE(verify(*new_token, verifier, options()));
    EXPECT_FALSE(verifier.remove("2025-10"));
}

TEST(AuthKeyring, RemovingTheSigningKeyStopsMinting) {
    Keyring signer;
    ASSERT_FALSE(signer.rotate(Jwk::generate(Algorithm::hs256, "a")));
    ASSERT_FALSE(signer.add(Jwk::generate(Algorithm::hs256, "b")));
    ASSERT_TRUE(signer.remove("a"));
    std::error_code ec;
    EXPECT_FALSE(mint(good_claims(), signer, ec));
    EXPECT_EQ(ec, make_error_code(errc::no_signing_key));
    EXPECT_FALSE(signer.set_signing("b"));
    EXPECT_TRUE(mint(good_claims(), signer, ec));
    EXPECT_EQ(signer.set_signing("zz"), make_error_code(errc::unknown_kid));
}

TEST(AuthKeyring, DuplicateKidIsRefused) {
    Keyring ring;
    ASSERT_FALSE(ring.add(Jwk::generate(Algorithm::eddsa, "k")));
    EXPECT_EQ(ring.add(Jwk::generate(Algorithm::hs256, "k")), make_error_code(errc::duplicate_kid));
    ASSERT_FALSE(ring.add(Jwk::generate(Algorithm::eddsa, "")));
    EXPECT_EQ(ring.add(Jwk::generate(Algorithm::eddsa, "")), make_error_code(errc::duplicate_kid));
    std::error_code ec;
    auto k = json::parse(*Jwk::generate(Algorithm::eddsa, "same").to_json(false));
    EXPECT_FALSE(Keyring::from_jwks(json{{"keys", {k, k}}}.dump(), ec));
    EXPECT_EQ(ec, make_error_code(errc::duplicate_kid));
}

TEST(AuthKeyring, JwksSkipsKeyTypesItDoesNotUnderstand) {
    auto ed = json::parse(*Jwk::generate(Algorithm::eddsa, "ed").to_json(false));
    json rsa = {{"kty", "RSA"}, {"kid", "r"}, {"n", "AQAB"}, {"e", "AQAB"}};
    json enc = ed;
    enc["kid"] = "enc";
    enc["use"] = "enc";
    std::error_code ec;
    auto ring = Keyring::from_jwks(json{{"keys", {rsa, ed, enc}}}.dump(), ec);
    ASSERT_TRUE(ring) << ec.message();
    EXPECT_EQ(ring->keys().size(), 1U);
    EXPECT_TRUE(ring->find("ed"));
    EXPECT_FALSE(Keyring::from_jwks(json{{"keys", {rsa}}}.dump(), ec));
    EXPECT_EQ(ec, make_error_code(errc::unsupported_key));
    EXPECT_FALSE(Keyring::from_jwks(R"({"keys":{}})", ec));
    EXPECT_EQ(ec, make_error_code(errc::bad_key));
    json bad_ed = ed;
    bad_ed["x"] = "short";
    EXPECT_FALSE(Keyring::from_jwks(json{{"keys", {bad_ed}}}.dump(), ec));
    EXPECT_EQ(ec, make_error_code(errc::bad_key));
}

TEST(AuthKeyring, PublicJwksNeverContainsSecrets) {
    Keyring ring;
    ASSERT_FALSE(ring.rotate(Jwk::generate(Algorithm::eddsa, "ed")));
    ASSERT_FALSE(ring.add(Jwk::generate(Algorithm::hs256, "hs")));
    auto jwks = json::parse(ring.to_public_jwks());
    ASSERT_EQ(jwks["keys"].size(), 1U);
    EXPECT_FALSE(jwks["keys"][0].contains("d"));
    EXPECT_FALSE(jwks["keys"][0].contains("k"));
}

TEST(AuthKeyringFile, SecretJwksMustBe0600) {
    test::TempDir dir;
    const auto path = dir / "keys.json";
    auto jwk = json::parse(*Jwk::generate(Algorithm::hs256, "hs").to_json(true));
    ASSERT_FALSE(write_key_file(path, json{{"keys", {jwk}}}.dump(), true, false));
    std::error_code ec;
    EXPECT_TRUE(Keyring::load(path, ec)) << ec.message();
    ::chmod(path.c_str(), 0644);
    EXPECT_FALSE(Keyring::load(path, ec));
    EXPECT_EQ(ec, make_error_code(errc::key_file_permissions));
}

TEST(AuthMint, TokensVerifyForBothAlgorithms) {
    for (auto alg : {Algorithm::hs256, Algorithm::eddsa}) {
        Keyring ring;
        ASSERT_FALSE(ring.rotate(Jwk::generate(alg, "k")));
        auto c = good_claims();
        c.cnf_x5t_s256 = b64url(std::string(32, 'z'));
        std::error_code ec;
        auto t = mint(c, ring, ec);
        ASSERT_TRUE(t) << ec.message();
        auto header = json::parse(decode_unverified(*t, ec)->header_json);
        EXPECT_EQ(header["alg"], to_string(alg));
        EXPECT_EQ(header["kid"], "k");
        EXPECT_EQ(header["typ"], "JWT");
        auto r = verify(*t, ring, options());
        ASSERT_TRUE(r) << r.message();
        EXPECT_EQ(r.claims->cnf_x5t_s256, c.cnf_x5t_s256);
        EXPECT_EQ(r.claims->scope, c.scope);
    }
}

TEST(AuthMint, RefusesTokensTheVerifierWouldRefuse) {
    auto key = Jwk::generate(Algorithm::hs256, "k");
    std::error_code ec;
    std::string detail;
    auto c = good_claims();
    c.expires_at = c.issued_at + 3601;
    EXPECT_FALSE(mint(c, key, ec, &detail));
    EXPECT_EQ(ec, make_error_code(errc::lifetime_too_long));
    c = good_claims();
    c.session_id.clear();
    EXPECT_FALSE(mint(c, key, ec, &detail));
    EXPECT_EQ(ec, make_error_code(errc::missing_claim));
    EXPECT_EQ(detail, "session_id");
    c = good_claims();
    c.type = TokenType::refresh;
    c.token_id = "r1";
    EXPECT_FALSE(mint(c, key, ec, &detail));  // refresh tokens carry no scope
    EXPECT_EQ(ec, make_error_code(errc::bad_claim));
    std::array<std::uint8_t, 32> pk{};
    EXPECT_FALSE(mint(good_claims(), Jwk::from_ed25519_public(pk, "pub"), ec));
    EXPECT_EQ(ec, make_error_code(errc::no_signing_key));
}

TEST(AuthMint, SessionTokenNeverPassesAsP2p) {
    auto key = Jwk::generate(Algorithm::eddsa, "k");
    Keyring ring;
    ASSERT_FALSE(ring.add(std::move(key)));
    ASSERT_FALSE(ring.set_signing("k"));
    Claims s;
    s.type = TokenType::session;
    s.subject = kNode;
    s.node_id = kNode;
    s.session_id = "sess-9";
    s.issued_at = kNow - 10;
    s.expires_at = kNow + 3000;  // even within the P2P lifetime
    std::error_code ec;
    auto t = mint(s, ring, ec);
    ASSERT_TRUE(t) << ec.message();
    EXPECT_EQ(verify(*t, ring, options()).error, make_error_code(errc::wrong_token_type));
    auto o = options();
    o.expected_type = TokenType::session;
    EXPECT_TRUE(verify(*t, ring, o));
}

}  // namespace
}  // namespace cyxp2p::auth
