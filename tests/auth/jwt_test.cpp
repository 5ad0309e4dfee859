// verify(): one test per error code with the token that triggers it, the classic attacks, and RFC examples.
#include <gtest/gtest.h>

#include <cyxp2p/auth/jwt.hpp>

#include "token_kit.hpp"

namespace cyxp2p::auth {
namespace {

using namespace testkit;
using nlohmann::json;

const std::string kSecret = "0123456789abcdef0123456789abcdef";  // 32 bytes
const json kHsHeader = {{"alg", "HS256"}, {"kid", "hs-1"}, {"typ", "JWT"}};
const json kEdHeader = {{"alg", "EdDSA"}, {"kid", "ed-1"}};

class AuthVerify : public ::testing::Test {
  protected:
    void SetUp() override {
        std::error_code ec;
        auto hs = Jwk::from_secret({kSecret.begin(), kSecret.end()}, "hs-1", ec);
        ASSERT_TRUE(hs) << ec.message();
        ASSERT_FALSE(ring.add(std::move(*hs)));
        std::array<std::uint8_t, 32> pk{};
        std::copy(ed.pk.begin(), ed.pk.end(), pk.begin());
        ASSERT_FALSE(ring.add(Jwk::from_ed25519_public(pk, "ed-1")));
    }

    std::string hs(const json& payload, const json& header = kHsHeader) {
        return hs256_raw(header.dump(), payload.dump(), kSecret);
    }
    std::string eddsa(const json& payload, const json& header = kEdHeader) {
        return eddsa_raw(header.dump(), payload.dump(), ed);
    }
    Verified check(const std::string& token, const VerifyOptions& o = options()) {
        return verify(token, ring, o);
    }

    EdKeys ed;
    Keyring ring;
};

#define EXPECT_REJECTED(result, code)                            \
    do {                                                         \
        const auto& r_ = (result);                               \
        EXPECT_FALSE(r_) << "token was accepted";                \
        EXPECT_EQ(r_.error, make_error_code(errc::code))         \
            << "got " << r_.error.message() << " " << r_.detail; \
    } while (0)

TEST_F(AuthVerify, AcceptsGoodHs256TokenAndReturnsTypedClaims) {
    auto r = check(hs(good_payload()));
    ASSERT_TRUE(r) << r.message();
    EXPECT_EQ(r.claims->type, TokenType::p2p);
    EXPECT_EQ(r.claims->issuer, "cyxwiz-central-server");
    EXPECT_EQ(r.claims->subject, "user-42");
    EXPECT_EQ(r.claims->node_id, kNode);
    EXPECT_EQ(r.claims->session_id, "sess-1");
    EXPECT_EQ(r.claims->issued_at, kNow - 60);
    EXPECT_EQ(r.claims->expires_at, kNow + 3540);
    EXPECT_EQ(r.claims->scope, (std::vector<std::string>{"job:execute", "metrics:report"}));
    EXPECT_FALSE(r.claims->cnf_x5t_s256);
}

TEST_F(AuthVerify, AcceptsGoodEddsaToken) {
    auto r = check(eddsa(good_payload()));
    ASSERT_TRUE(r) << r.message();
    EXPECT_EQ(r.claims->subject, "user-42");
}

TEST_F(AuthVerify, Malformed) {
    const auto good = hs(good_payload());
    EXPECT_REJECTED(check(good.substr(0, good.rfind('.'))), malformed);  // two parts
    EXPECT_REJECTED(check(good + ".abc"), malformed);                    // four parts
    EXPECT_REJECTED(check(good.substr(good.find('.'))), malformed);      // empty header
    EXPECT_REJECTED(check(""), malformed);
}

TEST_F(AuthVerify, BadBase64) {
    const auto good = hs(good_payload());
    EXPECT_REJECTED(check(good + "="), bad_base64);  // padding
    auto plus = good;
    plus[good.find('.') + 2] = '+';  // base64, not base64url
    EXPECT_REJECTED(check(plus), bad_base64);
    auto space = good;
    space.insert(good.find('.') + 1, " ");
    EXPECT_REJECTED(check(space), bad_base64);
    // Non-canonical: a 32-byte MAC is 43 characters whose last carries 2 unused bits; setting one keeps the
    // bytes the same for a lax decoder but must be refused (one encoding per token).
    auto lax = good;
    char& last = lax.back();
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    last = alphabet[alphabet.find(last) | 1];
    ASSERT_NE(lax, good);
    EXPECT_REJECTED(check(lax), bad_base64);
}

TEST_F(AuthVerify, BadJsonDuplicateMembers) {
    // Header with alg twice: a lax parser keeps one of them; which one is the confusion RFC 8725 warns of.
    EXPECT_REJECTED(
        check(hs256_raw(R"({"alg":"none","alg":"HS256","kid":"hs-1"})", good_payload().dump(), kSecret)),
        bad_json);
    // Payload with node_id twice, correctly signed.
    auto p = good_payload().dump();
    p.insert(1, R"("node_id":"other-node",)");
    EXPECT_REJECTED(check(hs256_raw(kHsHeader.dump(), p, kSecret)), bad_json);
}

TEST_F(AuthVerify, BadJsonShapeUtf8AndDepth) {
    EXPECT_REJECTED(check(hs256_raw(kHsHeader.dump(), "[1,2]", kSecret)), bad_json);
    EXPECT_REJECTED(check(hs256_raw(kHsHeader.dump(), "{\"sub\":\"\xff\"}", kSecret)), bad_json);
    EXPECT_REJECTED(check(hs256_raw(kHsHeader.dump(), R"({"sub":"\ud800"})", kSecret)), bad_json);
    EXPECT_REJECTED(check(hs256_raw(kHsHeader.dump(), good_payload().dump() + " x", kSecret)), bad_json);
    auto deep = good_payload();
    deep["x"] = json::parse("[[[[[[[[[1]]]]]]]]]");
    EXPECT_REJECTED(check(hs(deep)), bad_json);
    auto ok_depth = good_payload();
    ok_depth["x"] = json::parse("[[[[[[1]]]]]]");  // depth 7 with the outer object
    EXPECT_TRUE(check(hs(ok_depth)));
    EXPECT_REJECTED(check(hs256_raw("\xEF\xBB\xBF" + kHsHeader.dump(), good_payload().dump(), kSecret)),
                    bad_json);
}

TEST_F(AuthVerify, TooLarge) {
    auto p = good_payload();
    p["pad"] = std::string(8 * 1024, 'a');
    EXPECT_REJECTED(check(hs(p)), too_large);
    auto o = options();
    o.limits.max_token_bytes = 64 * 1024;
    EXPECT_TRUE(check(hs(p), o));
}

TEST_F(AuthVerify, BadHeader) {
    EXPECT_REJECTED(check(hs(good_payload(), {{"alg", "HS256"}, {"kid", 7}})), bad_header);
    EXPECT_REJECTED(check(hs(good_payload(), {{"alg", "HS256"}, {"kid", "hs-1"}, {"typ", "at+jwt"}})),
                    bad_header);
    EXPECT_REJECTED(check(hs(good_payload(), {{"alg", 5}, {"kid", "hs-1"}})), bad_header);
    EXPECT_REJECTED(check(hs(good_payload(), {{"alg", "HS256"}, {"kid", "hs-1"}, {"b64", false}})),
                    bad_header);
}

TEST_F(AuthVerify, AlgNoneIsNeverAccepted) {
    const std::string p = b64url(good_payload().dump());
    EXPECT_REJECTED(check(b64url(R"({"alg":"none"})") + "." + p + "."), unsupported_alg);
    EXPECT_REJECTED(check(b64url(R"({"alg":"none","kid":"hs-1"})") + "." + p + "."), unsupported_alg);
    EXPECT_REJECTED(check(b64url(R"({"alg":"None"})") + "." + p + "."), unsupported_alg);
}

TEST_F(AuthVerify, UnsupportedAlg) {
    EXPECT_REJECTED(check(hs(good_payload(), {{"alg", "HS512"}, {"kid", "hs-1"}})), unsupported_alg);
    EXPECT_REJECTED(check(hs(good_payload(), {{"alg", "RS256"}, {"kid", "hs-1"}})), unsupported_alg);
    EXPECT_REJECTED(check(hs(good_payload(), {{"alg", "hs256"}, {"kid", "hs-1"}})), unsupported_alg);
    EXPECT_REJECTED(check(hs(good_payload(), {{"kid", "hs-1"}})), unsupported_alg);
}

TEST_F(AuthVerify, AlgorithmConfusionAttackIsRejected) {
    // The attacker knows the Ed25519 public key (it is public) and uses its bytes as an HMAC secret.
    const std::string pk_bytes = bytes(ed.pk.data(), ed.pk.size());
    const json header = {{"alg", "HS256"}, {"kid", "ed-1"}};
    EXPECT_REJECTED(check(hs256_raw(header.dump(), good_payload().dump(), pk_bytes)), alg_mismatch);
    // Same without kid, against a keyring that only has the Ed25519 key.
    Keyring ed_only;
    std::array<std::uint8_t, 32> pk{};
    std::copy(ed.pk.begin(), ed.pk.end(), pk.begin());
    ASSERT_FALSE(ed_only.add(Jwk::from_ed25519_public(pk, "ed-1")));
    EXPECT_REJECTED(
        verify(hs256_raw(R"({"alg":"HS256"})", good_payload().dump(), pk_bytes), ed_only, options()),
        alg_mismatch);
    // And the reverse: an EdDSA header naming the HS256 key.
    EXPECT_REJECTED(check(eddsa(good_payload(), {{"alg", "EdDSA"}, {"kid", "hs-1"}})), alg_mismatch);
}

TEST_F(AuthVerify, UnknownKid) {
    EXPECT_REJECTED(check(hs(good_payload(), {{"alg", "HS256"}, {"kid", "hs-2"}})), unknown_kid);
    auto r = check(hs(good_payload(), {{"alg", "HS256"}, {"kid", "hs-2"}}));
    EXPECT_EQ(r.detail, "hs-2");
}

TEST_F(AuthVerify, NoKidNeedsExactlyOneCandidateKey) {
    const json no_kid = {{"alg", "HS256"}};
    EXPECT_TRUE(check(hs(good_payload(), no_kid)));  // one HS256 key in the ring
    std::error_code ec;
    auto second = Jwk::from_secret(std::vector<std::uint8_t>(32, 7), "hs-2", ec);
    ASSERT_TRUE(second);
    ASSERT_FALSE(ring.add(std::move(*second)));
    EXPECT_REJECTED(check(hs(good_payload(), no_kid)), unknown_kid);
    EXPECT_TRUE(check(hs(good_payload())));  // with kid it is still fine
}

TEST_F(AuthVerify, SwappedKidIsRejected) {
    // Signed by ed-1 but naming ed-2, another trusted Ed25519 key.
    EdKeys other;
    std::array<std::uint8_t, 32> pk{};
    std::copy(other.pk.begin(), other.pk.end(), pk.begin());
    ASSERT_FALSE(ring.add(Jwk::from_ed25519_public(pk, "ed-2")));
    EXPECT_REJECTED(check(eddsa(good_payload(), {{"alg", "EdDSA"}, {"kid", "ed-2"}})), bad_signature);
    EXPECT_TRUE(check(eddsa(good_payload(), {{"alg", "EdDSA"}, {"kid", "ed-1"}})));
}

TEST_F(AuthVerify, CritUnsupported) {
    const json h = {{"alg", "HS256"}, {"kid", "hs-1"}, {"crit", {"urn:example:x"}}, {"urn:example:x", 1}};
    auto r = check(hs(good_payload(), h));
    EXPECT_REJECTED(r, crit_unsupported);
    EXPECT_EQ(r.detail, "urn:example:x");
    EXPECT_REJECTED(check(hs(good_payload(), {{"alg", "HS256"}, {"kid", "hs-1"}, {"crit", json::array()}})),
                    bad_header);
}

TEST_F(AuthVerify, BadSignature) {
    auto t = hs(good_payload());
    t[t.size() - 5] = t[t.size() - 5] == 'A' ? 'B' : 'A';
    EXPECT_REJECTED(check(t), bad_signature);
    EXPECT_REJECTED(check(hs256_raw(kHsHeader.dump(), good_payload().dump(), std::string(32, 'x'))),
                    bad_signature);
    auto e = eddsa(good_payload());
    e[e.size() - 10] = e[e.size() - 10] == 'A' ? 'B' : 'A';
    EXPECT_REJECTED(check(e), bad_signature);
    // A truncated signature is a bad signature, not a crash.
    const auto h = hs(good_payload());
    EXPECT_REJECTED(check(h.substr(0, h.size() - 3)), bad_signature);
    // Payload swapped under a valid signature.
    auto mallory = good_payload();
    mallory["sub"] = "mallory";
    const auto other = hs(mallory);
    const auto mixed = h.substr(0, h.find('.')) +
                       other.substr(other.find('.'), other.rfind('.') - other.find('.')) +
                       h.substr(h.rfind('.'));
    EXPECT_REJECTED(check(mixed), bad_signature);
}

TEST_F(AuthVerify, ExpiredWithLeeway) {
    auto p = good_payload();
    p["iat"] = kNow - 3600;
    p["exp"] = kNow - 30;  // now == exp + leeway: expired (RFC 7519 4.1.4 "on or after")
    EXPECT_REJECTED(check(hs(p)), expired);
    p["exp"] = kNow - 29;
    p["iat"] = kNow - 3000;
    EXPECT_TRUE(check(hs(p)));
    auto o = options();
    o.leeway_s = 0;
    EXPECT_REJECTED(check(hs(p), o), expired);
}

TEST_F(AuthVerify, NotYetValid) {
    auto p = good_payload();
    p["nbf"] = kNow + 31;
    EXPECT_REJECTED(check(hs(p)), not_yet_valid);
    p["nbf"] = kNow + 30;
    EXPECT_TRUE(check(hs(p)));
}

TEST_F(AuthVerify, IssuedInFuture) {
    auto p = good_payload();
    p["iat"] = kNow + 31;
    p["exp"] = kNow + 31 + 3600;
    EXPECT_REJECTED(check(hs(p)), issued_in_future);
    p["iat"] = kNow + 30;
    p["exp"] = kNow + 30 + 3600;
    EXPECT_TRUE(check(hs(p)));
}

TEST_F(AuthVerify, LifetimeTooLong) {
    auto p = good_payload();
    p["exp"] = p["iat"].get<std::int64_t>() + 3601;
    EXPECT_REJECTED(check(hs(p)), lifetime_too_long);
    // The platform this replaces: tokens that in effect never expire.
    p["exp"] = 253402300799LL;
    EXPECT_REJECTED(check(hs(p)), lifetime_too_long);
}

TEST_F(AuthVerify, WrongIssuer) {
    auto p = good_payload();
    p["iss"] = "cyxwiz-central-server-evil";
    EXPECT_REJECTED(check(hs(p)), wrong_issuer);
    auto o = options();
    o.issuer = "cyxwiz-central-server-evil";
    EXPECT_TRUE(check(hs(p), o));
}

TEST_F(AuthVerify, WrongNode) {
    auto p = good_payload();
    p["node_id"] = "node-other";
    EXPECT_REJECTED(check(hs(p)), wrong_node);
    auto a = good_payload();
    a["aud"] = "node-other";
    EXPECT_REJECTED(check(hs(a)), wrong_node);
    a["aud"] = {"node-other", kNode};
    EXPECT_TRUE(check(hs(a)));
}

TEST_F(AuthVerify, WrongTokenType) {
    auto p = good_payload();
    p["token_type"] = "session";
    p.erase("scope");
    EXPECT_REJECTED(check(hs(p)), wrong_token_type);
    p["token_type"] = "P2P";
    EXPECT_REJECTED(check(hs(p)), wrong_token_type);
    // And a P2P token never passes where a session token is expected (RFC 8725 3.12).
    auto o = options();
    o.expected_type = TokenType::session;
    EXPECT_REJECTED(check(hs(good_payload()), o), wrong_token_type);
}

TEST_F(AuthVerify, MissingClaimNamesTheClaim) {
    for (const char* name : {"token_type", "iss", "sub", "iat", "exp", "node_id", "session_id", "scope"}) {
        auto p = good_payload();
        p.erase(name);
        auto r = check(hs(p));
        EXPECT_REJECTED(r, missing_claim);
        EXPECT_EQ(r.detail, name);
        EXPECT_NE(r.message().find(name), std::string::npos) << r.message();
    }
}

TEST_F(AuthVerify, BadClaimNamesTheClaim) {
    const std::vector<std::pair<std::string, json>> cases = {
        {"iat", 1764000000.5},                         // fraction
        {"exp", "1764003600"},                         // string
        {"exp", 1.7640036e9},                          // float that is a whole number
        {"exp", json::parse("18446744073709551616")},  // > 2^64: overflows every integer type
        {"iat", -1},                                   // before 1970
        {"exp", 253402300800LL},                       // after 9999
        {"sub", ""},                                   // empty
        {"session_id", 12},
        {"scope", "job:execute metrics:report"},  // RFC 8693 string form: not ours
        {"scope", {"job:execute", "job:execute"}},
        {"scope", {"job:execute", 3}},
        {"cnf", {{"jkt", "abc"}}},  // a binding we cannot enforce
        {"cnf", {{"x5t#S256", "too-short"}}},
        {"node_pin", "sha256//not-base64"},
        {"aud", 5},
    };
    for (const auto& [name, value] : cases) {
        auto p = good_payload();
        p[name] = value;
        auto r = check(hs(p));
        EXPECT_REJECTED(r, bad_claim);
        EXPECT_EQ(r.detail, name) << value.dump();
    }
    auto p = good_payload();
    p["exp"] = p["iat"];
    EXPECT_REJECTED(check(hs(p)), bad_claim);
}

TEST_F(AuthVerify, ConfirmationClaimsAreReturned) {
    auto p = good_payload();
    const std::string x5t = b64url(std::string(32, '\x11'));
    const std::string pin = "sha256//" + std::string(42, 'A') + "E=";
    p["cnf"] = {{"x5t#S256", x5t}};
    p["node_pin"] = pin;
    auto r = check(hs(p));
    ASSERT_TRUE(r) << r.message();
    EXPECT_EQ(r.claims->cnf_x5t_s256, x5t);
    EXPECT_EQ(r.claims->node_pin, pin);
    p["node_pin"] = "sha256//" + std::string(42, 'A') + "F=";  // non-canonical last character
    EXPECT_REJECTED(check(hs(p)), bad_claim);
}

// Read, not verified: the claims come back whatever the signature, but the shape rules still hold.
TEST_F(AuthVerify, ReadUnverifiedClaimsChecksShapeNotSignature) {
    auto p = good_payload();
    const std::string pin = "sha256//" + std::string(42, 'A') + "E=";
    p["node_pin"] = pin;
    std::string token = hs(p);
    token.back() = token.back() == 'A' ? 'B' : 'A';  // a broken signature
    std::error_code ec;
    auto claims = auth::read_unverified_claims(token, auth::TokenType::p2p, ec);
    ASSERT_TRUE(claims) << ec.message();
    EXPECT_EQ(claims->node_pin, pin);
    EXPECT_FALSE(auth::read_unverified_claims(token, auth::TokenType::session, ec));
    EXPECT_EQ(ec, auth::errc::wrong_token_type);
    p["node_pin"] = "sha256//" + std::string(42, 'A') + "F=";
    EXPECT_FALSE(auth::read_unverified_claims(hs(p), auth::TokenType::p2p, ec));
    EXPECT_EQ(ec, auth::errc::bad_claim);
    EXPECT_FALSE(auth::read_unverified_claims("not.a.token", auth::TokenType::p2p, ec));
    EXPECT_TRUE(ec);
}

TEST_F(AuthVerify, UnknownClaimsAreIgnored) {
    auto p = good_payload();
    p["x-extra"] = {{"a", 1}};
    EXPECT_TRUE(check(hs(p)));
}

TEST_F(AuthVerify, ProgrammerErrorsThrow) {
    auto o = options();
    o.leeway_s = 61;
    EXPECT_THROW(check(hs(good_payload()), o), std::invalid_argument);
    o = options();
    o.node_id.clear();
    EXPECT_THROW(check(hs(good_payload()), o), std::invalid_argument);
}

TEST_F(AuthVerify, EmptyKeyringRejectsEverything) {
    Keyring empty;
    EXPECT_REJECTED(verify(hs(good_payload()), empty, options()), unknown_kid);
    EXPECT_REJECTED(verify(hs(good_payload(), {{"alg", "HS256"}}), empty, options()), unknown_kid);
}

// RFC 7515 appendix A.1: the HS256 example verifies with the example key (its payload is not a CyxWiz
// token, so the first refusal comes after the signature: the missing token_type).
TEST(AuthRfc7515, A1Hs256ExampleSignatureVerifies) {
    const std::string jwk =
        R"({"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"})";
    const std::string token =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    std::error_code ec;
    auto ring = Keyring::from_jwks(jwk, ec);
    ASSERT_TRUE(ring) << ec.message();
    auto r = verify(token, *ring, options());
    EXPECT_EQ(r.error, make_error_code(errc::missing_claim));
    EXPECT_EQ(r.detail, "token_type");
    auto tampered = token;
    tampered[tampered.size() - 2] = 'Y';
    EXPECT_EQ(verify(tampered, *ring, options()).error, make_error_code(errc::bad_signature));
}

// RFC 8037 appendix A.4: the Ed25519 example signature verifies (payload is plain text, not JSON).
TEST(AuthRfc8037, A4EdDsaExampleSignatureVerifies) {
    const std::string jwk =
        R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";
    const std::string token =
        "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    std::error_code ec;
    auto ring = Keyring::from_jwks(jwk, ec);
    ASSERT_TRUE(ring) << ec.message();
    auto r = verify(token, *ring, options());
    EXPECT_EQ(r.error, make_error_code(errc::bad_json));
    EXPECT_EQ(r.detail, "payload");
    auto tampered = token;
    tampered[25] = tampered[25] == 'A' ? 'B' : 'A';
    EXPECT_EQ(verify(tampered, *ring, options()).error, make_error_code(errc::bad_signature));
}

TEST(AuthDecode, ReturnsHeaderAndPayload) {
    const auto t = hs256_raw(R"({"alg":"HS256"})", R"({"sub":"x"})", kSecret);
    std::error_code ec;
    auto u = decode_unverified(t, ec);
    ASSERT_TRUE(u) << ec.message();
    EXPECT_EQ(u->header_json, R"({"alg":"HS256"})");
    EXPECT_EQ(u->payload_json, R"({"sub":"x"})");
    EXPECT_FALSE(decode_unverified("a.b", ec));
    EXPECT_EQ(ec, make_error_code(errc::malformed));
}

}  // namespace
}  // namespace cyxp2p::auth
