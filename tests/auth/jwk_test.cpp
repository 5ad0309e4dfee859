// JWK parsing and writing (RFC 7517, RFC 8037), key files and the 0600 rule.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/auth/jwk.hpp>

#include "support.hpp"

namespace cyxp2p::auth {
namespace {

using nlohmann::json;

// RFC 8037 A.1 / A.2.
const std::string kRfc8037Private =
    R"({"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",)"
    R"("x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";

std::error_code parse_error(const std::string& text, std::string* detail = nullptr) {
    std::error_code ec;
    auto k = Jwk::parse(text, ec, detail);
    EXPECT_FALSE(k) << text;
    return ec;
}

TEST(AuthJwk, Rfc8037PrivateKeyParsesAndItsPublicPartMatches) {
    std::error_code ec;
    auto k = Jwk::parse(kRfc8037Private, ec);
    ASSERT_TRUE(k) << ec.message();
    EXPECT_EQ(k->alg(), Algorithm::eddsa);
    EXPECT_TRUE(k->can_sign());
    auto pub = json::parse(*k->to_json(false));
    EXPECT_EQ(pub["x"], "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    EXPECT_FALSE(pub.contains("d"));
    EXPECT_EQ(json::parse(*k->to_json(true))["d"], "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A");
}

TEST(AuthJwk, PrivateKeyWhoseXIsNotItsPublicKeyIsBadKey) {
    auto j = json::parse(kRfc8037Private);
    j["x"] = "22qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    std::string detail;
    EXPECT_EQ(parse_error(j.dump(), &detail), make_error_code(errc::bad_key));
    EXPECT_EQ(detail, "d");
}

TEST(AuthJwk, OctKeyIsBoundToHs256AndMustBe32Bytes) {
    std::error_code ec;
    const std::string k32 = R"({"kty":"oct","kid":"a","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"})";
    auto k = Jwk::parse(k32, ec);
    ASSERT_TRUE(k) << ec.message();
    EXPECT_EQ(k->alg(), Algorithm::hs256);
    EXPECT_EQ(k->kid(), "a");
    EXPECT_FALSE(k->to_json(false));  // a symmetric key has no public form
    EXPECT_EQ(parse_error(R"({"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZQ"})"),
              make_error_code(errc::weak_key));  // 31 bytes
    EXPECT_EQ(parse_error(R"({"kty":"oct","alg":"HS512","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"})"),
              make_error_code(errc::unsupported_key));
    EXPECT_EQ(parse_error(R"({"kty":"oct","alg":"EdDSA","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"})"),
              make_error_code(errc::unsupported_key));
    EXPECT_FALSE(Jwk::from_secret(std::vector<std::uint8_t>(31, 1), "x", ec));
    EXPECT_EQ(ec, make_error_code(errc::weak_key));
}

TEST(AuthJwk, RejectsWhatIsNotAUsableSigningKey) {
    const std::string x = R"("x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")";
    EXPECT_EQ(parse_error(R"({"kty":"OKP","crv":"X25519",)" + x + "}"),
              make_error_code(errc::unsupported_key));
    EXPECT_EQ(parse_error(R"({"kty":"OKP","crv":"Ed25519","alg":"HS256",)" + x + "}"),
              make_error_code(errc::unsupported_key));
    EXPECT_EQ(parse_error(R"({"kty":"RSA","n":"AQAB","e":"AQAB"})"), make_error_code(errc::unsupported_key));
    EXPECT_EQ(parse_error(R"({"kty":"OKP","crv":"Ed25519","use":"enc",)" + x + "}"),
              make_error_code(errc::bad_key));
    EXPECT_EQ(parse_error(R"({"kty":"OKP","crv":"Ed25519","key_ops":["encrypt"],)" + x + "}"),
              make_error_code(errc::bad_key));
    EXPECT_EQ(
        parse_error(R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR"})"),
        make_error_code(errc::bad_key));  // 31 bytes
    EXPECT_EQ(
        parse_error(R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo="})"),
        make_error_code(errc::bad_key));  // padded
    EXPECT_EQ(parse_error(R"({"kty":"OKP","kty":"OKP","crv":"Ed25519",)" + x + "}"),
              make_error_code(errc::bad_key));
    EXPECT_EQ(parse_error(R"({"crv":"Ed25519",)" + x + "}"), make_error_code(errc::bad_key));
    EXPECT_EQ(parse_error(R"({"kty":"OKP","crv":"Ed25519","kid":"",)" + x + "}"),
              make_error_code(errc::bad_key));
    EXPECT_EQ(parse_error("[]"), make_error_code(errc::bad_key));
}

TEST(AuthJwk, GeneratedKeysRoundTrip) {
    for (auto alg : {Algorithm::hs256, Algorithm::eddsa}) {
        auto k = Jwk::generate(alg, "k1");
        ASSERT_TRUE(k.can_sign());
        std::error_code ec;
        auto again = Jwk::parse(*k.to_json(true), ec);
        ASSERT_TRUE(again) << ec.message();
        EXPECT_EQ(again->alg(), alg);
        EXPECT_EQ(again->kid(), "k1");
        EXPECT_TRUE(again->can_sign());
        EXPECT_EQ(json::parse(*again->to_json(true)), json::parse(*k.to_json(true)));
    }
    EXPECT_NE(*Jwk::generate(Algorithm::hs256, "a").to_json(true),
              *Jwk::generate(Algorithm::hs256, "a").to_json(true));
}

TEST(AuthJwkFile, SecretKeyFileReadableByOthersIsRefused) {
    test::TempDir dir;
    const auto path = dir / "k.jwk";
    auto k = Jwk::generate(Algorithm::eddsa, "k1");
    ASSERT_FALSE(write_key_file(path, *k.to_json(true), true, false));
    EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::error_code ec;
    EXPECT_TRUE(load_jwk_file(path, ec)) << ec.message();
    ::chmod(path.c_str(), 0640);
    EXPECT_FALSE(load_jwk_file(path, ec));
    EXPECT_EQ(ec, make_error_code(errc::key_file_permissions));
    // A public key may be world-readable.
    const auto pub = dir / "k.pub.jwk";
    ASSERT_FALSE(write_key_file(pub, *k.to_json(false), false, false));
    EXPECT_TRUE(load_jwk_file(pub, ec)) << ec.message();
    // No silent overwrite.
    EXPECT_EQ(write_key_file(path, "{}", true, false), make_error_code(errc::io_error));
    EXPECT_FALSE(load_jwk_file(dir / "missing.jwk", ec));
    EXPECT_EQ(ec, make_error_code(errc::io_error));
}

TEST(AuthErrc, EveryCodeHasANameAndADistinctMessage) {
    EXPECT_STREQ(category().name(), "cyxp2p.auth");
    std::set<std::string> names, messages;
    for (int i = static_cast<int>(errc::malformed); i <= static_cast<int>(errc::crypto_failure); ++i) {
        const auto e = static_cast<errc>(i);
        EXPECT_STRNE(to_string(e), "unknown") << i;
        names.insert(to_string(e));
        messages.insert(make_error_code(e).message());
    }
    const auto count = static_cast<std::size_t>(errc::crypto_failure);
    EXPECT_EQ(names.size(), count);
    EXPECT_EQ(messages.size(), count);
    EXPECT_STREQ(to_string(errc::bad_signature), "bad_signature");
    EXPECT_STREQ(to_string(errc::missing_claim), "missing_claim");
}

}  // namespace
}  // namespace cyxp2p::auth

namespace cyxp2p::auth {
namespace {

// RFC 8037 A.3: the thumbprint of the example Ed25519 key.
TEST(AuthJwk, Rfc8037ThumbprintMatches) {
    std::error_code ec;
    auto k =
        Jwk::parse(R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})", ec);
    ASSERT_TRUE(k);
    EXPECT_EQ(k->thumbprint(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
}

}  // namespace
}  // namespace cyxp2p::auth
