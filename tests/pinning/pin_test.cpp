#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/pin.hpp>

namespace pinning = cyxp2p::pinning;
using pinning::errc;
using pinning::Pin;

namespace {

// SHA-256("abc") from FIPS 180-2 appendix B.1, base64 of it computed independently:
// printf abc | openssl dgst -sha256 -binary | base64
constexpr const char* kAbcPin = "sha256//ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";

TEST(Pin, ParsesAndFormatsCanonicalForm) {
    std::error_code ec;
    auto pin = Pin::parse(kAbcPin, ec);
    ASSERT_TRUE(pin) << ec.message();
    EXPECT_EQ(pin->digest()[0], 0xba);
    EXPECT_EQ(pin->digest()[31], 0xad);
    EXPECT_EQ(pin->to_string(), kAbcPin);
}

TEST(Pin, OfSpkiDerIsSha256OfTheBytes) {
    const std::uint8_t abc[] = {'a', 'b', 'c'};
    EXPECT_EQ(Pin::of_spki_der(abc).to_string(), kAbcPin);
}

TEST(Pin, RejectsWrongPrefix) {
    std::error_code ec;
    EXPECT_FALSE(Pin::parse("sha1//ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", ec));
    EXPECT_EQ(ec, errc::wrong_prefix);
    EXPECT_FALSE(Pin::parse("SHA256//ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", ec));
    EXPECT_EQ(ec, errc::wrong_prefix);
    EXPECT_FALSE(Pin::parse("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", ec));
    EXPECT_EQ(ec, errc::wrong_prefix);
}

TEST(Pin, RejectsBadBase64) {
    std::error_code ec;
    // '-' and '_' are base64url, not the base64 curl uses.
    EXPECT_FALSE(Pin::parse("sha256//ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=", ec));
    EXPECT_EQ(ec, errc::bad_base64);
    // Padding missing.
    EXPECT_FALSE(Pin::parse("sha256//ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0", ec));
    EXPECT_EQ(ec, errc::bad_base64);
    // Non-canonical: the unused low bits of the last symbol are not zero ('1' instead of '0').
    EXPECT_FALSE(Pin::parse("sha256//ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa1=", ec));
    EXPECT_EQ(ec, errc::bad_base64);
    // Whitespace inside.
    EXPECT_FALSE(Pin::parse("sha256//ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAF a0=", ec));
    EXPECT_EQ(ec, errc::bad_base64);
    // '=' in the middle.
    EXPECT_FALSE(Pin::parse("sha256//ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIA=a0=", ec));
    EXPECT_EQ(ec, errc::bad_base64);
}

TEST(Pin, RejectsWrongDigestLength) {
    std::error_code ec;
    // SHA-1 sized (20 bytes) digest in valid base64.
    EXPECT_FALSE(Pin::parse("sha256//qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", ec));
    EXPECT_EQ(ec, errc::wrong_digest_length);
    // 33 bytes.
    EXPECT_FALSE(Pin::parse("sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ec));
    EXPECT_EQ(ec, errc::wrong_digest_length);
    EXPECT_FALSE(Pin::parse("sha256//", ec));
    EXPECT_EQ(ec, errc::wrong_digest_length);
    // A hex digest where base64 belongs.
    EXPECT_FALSE(Pin::parse("sha256//ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ec));
    EXPECT_EQ(ec, errc::wrong_digest_length);
}

TEST(Pin, EqualityIsByDigest) {
    std::error_code ec;
    auto a = Pin::parse(kAbcPin, ec);
    auto b = Pin::parse("sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", ec);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *a);
    EXPECT_FALSE(*a == *b);
}

TEST(Pin, OfCertificatePemRejectsGarbage) {
    std::error_code ec;
    EXPECT_FALSE(Pin::of_certificate_pem("not a certificate", ec));
    EXPECT_EQ(ec, errc::bad_pem);
    EXPECT_FALSE(
        Pin::of_certificate_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", ec));
    EXPECT_EQ(ec, errc::bad_pem);
}

TEST(Pin, EveryErrorHasANameAndAnActionableMessage) {
    for (int e = 1; e <= static_cast<int>(errc::handshake_failed); ++e) {
        const auto code = make_error_code(static_cast<errc>(e));
        EXPECT_NE(std::string(pinning::to_string(static_cast<errc>(e))), "unknown") << e;
        EXPECT_NE(code.message(), "unknown pinning error") << e;
        EXPECT_STREQ(code.category().name(), "cyxp2p.pinning");
    }
}

}  // namespace
