#include <filesystem>

#include <gtest/gtest.h>
#include <openssl/x509.h>
#include <support.hpp>
#include <sys/stat.h>

#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/identity.hpp>

namespace pinning = cyxp2p::pinning;
using cyxp2p::test::TempDir;
using pinning::errc;
using pinning::Identity;
using pinning::IdentityOptions;
using pinning::KeyType;

namespace {

mode_t mode_of(const std::filesystem::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0);
    return st.st_mode & 0777;
}

TEST(Identity, GeneratesEd25519ByDefaultWithNodeIdInCommonName) {
    std::error_code ec;
    auto id = Identity::generate({.node_id = "node-1"}, ec);
    ASSERT_TRUE(id) << ec.message();
    EXPECT_EQ(id->node_id(), "node-1");
    EXPECT_EQ(id->key_type(), KeyType::ed25519);
    EXPECT_EQ(EVP_PKEY_is_a(id->private_key(), "ED25519"), 1);
    char cn[64] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(id->certificate()), NID_commonName, cn, sizeof cn);
    EXPECT_STREQ(cn, "node-1");
    EXPECT_EQ(X509_get_version(id->certificate()), X509_VERSION_3);
    EXPECT_EQ(X509_verify(id->certificate(), id->private_key()), 1);  // really self-signed by its key
}

TEST(Identity, P256Option) {
    std::error_code ec;
    auto id = Identity::generate({.key_type = KeyType::p256, .node_id = "n"}, ec);
    ASSERT_TRUE(id) << ec.message();
    EXPECT_EQ(EVP_PKEY_is_a(id->private_key(), "EC"), 1);
    EXPECT_EQ(X509_verify(id->certificate(), id->private_key()), 1);
}

TEST(Identity, DefaultNodeIdIsARandomUuidV4) {
    std::error_code ec;
    auto a = Identity::generate({}, ec);
    auto b = Identity::generate({}, ec);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->node_id().size(), 36U);
    EXPECT_EQ(a->node_id()[14], '4');
    EXPECT_NE(a->node_id(), b->node_id());
    EXPECT_FALSE(a->pin() == b->pin());
}

TEST(Identity, SerialsAreRandomAndPositive) {
    std::error_code ec;
    auto a = Identity::generate({.node_id = "n"}, ec);
    auto b = Identity::generate({.node_id = "n"}, ec);
    ASSERT_TRUE(a && b);
    EXPECT_NE(
        ASN1_INTEGER_cmp(X509_get0_serialNumber(a->certificate()), X509_get0_serialNumber(b->certificate())),
        0);
    EXPECT_NE(ASN1_STRING_type(X509_get0_serialNumber(a->certificate())), V_ASN1_NEG_INTEGER);
}

TEST(Identity, ValidityIsConfigurable) {
    std::error_code ec;
    auto id = Identity::generate({.node_id = "n", .validity = std::chrono::hours(48)}, ec);
    ASSERT_TRUE(id);
    int days = 0, secs = 0;
    ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(id->certificate()),
                             X509_get0_notAfter(id->certificate())),
              1);
    EXPECT_EQ(days * 86400 + secs, 48 * 3600 + 3600);  // plus the one hour of back-dating
}

TEST(Identity, RejectsBadNodeIds) {
    std::error_code ec;
    for (const std::string& bad : std::vector<std::string>{"has space", "slash/inside", std::string(65, 'a'),
                                                           "new\nline", "CN=evil,O=x"}) {
        EXPECT_FALSE(Identity::generate({.node_id = bad}, ec)) << bad;
        EXPECT_EQ(ec, errc::bad_node_id);
    }
}

TEST(Identity, SaveLoadRoundTripWithModes) {
    TempDir tmp;
    std::error_code ec;
    auto id = Identity::generate({.node_id = "round-trip"}, ec);
    ASSERT_TRUE(id);
    const auto dir = tmp / "identity";
    ASSERT_FALSE(id->save(dir));
    EXPECT_EQ(mode_of(dir), 0700U);
    EXPECT_EQ(mode_of(dir / Identity::key_file), 0600U);
    EXPECT_EQ(mode_of(dir / Identity::cert_file), 0644U);
    auto loaded = Identity::load(dir, ec);
    ASSERT_TRUE(loaded) << ec.message();
    EXPECT_EQ(loaded->node_id(), "round-trip");
    EXPECT_EQ(loaded->pin(), id->pin());
    EXPECT_EQ(loaded->certificate_pem(), id->certificate_pem());
    EXPECT_FALSE(std::filesystem::exists(dir / "node.key.tmp"));
}

TEST(Identity, P256SaveLoad) {
    TempDir tmp;
    std::error_code ec;
    auto id = Identity::generate({.key_type = KeyType::p256, .node_id = "p"}, ec);
    ASSERT_TRUE(id);
    ASSERT_FALSE(id->save(tmp.path()));
    auto loaded = Identity::load(tmp.path(), ec);
    ASSERT_TRUE(loaded) << ec.message();
    EXPECT_EQ(loaded->key_type(), KeyType::p256);
    EXPECT_EQ(loaded->pin(), id->pin());
}

TEST(Identity, RefusesToOverwriteUnlessAsked) {
    TempDir tmp;
    std::error_code ec;
    auto first = Identity::generate({.node_id = "first"}, ec);
    auto second = Identity::generate({.node_id = "second"}, ec);
    ASSERT_FALSE(first->save(tmp.path()));
    EXPECT_EQ(second->save(tmp.path()), errc::identity_exists);
    EXPECT_EQ(Identity::load(tmp.path(), ec)->node_id(), "first");  // untouched
    ASSERT_FALSE(second->save(tmp.path(), /*overwrite=*/true));
    EXPECT_EQ(Identity::load(tmp.path(), ec)->node_id(), "second");
}

TEST(Identity, RefusesKeyReadableByOthers) {
    TempDir tmp;
    std::error_code ec;
    ASSERT_FALSE(Identity::generate({.node_id = "n"}, ec)->save(tmp.path()));
    for (mode_t mode : {0644U, 0640U, 0604U, 0660U, 0601U}) {
        ASSERT_EQ(::chmod((tmp / Identity::key_file).c_str(), mode), 0);
        EXPECT_FALSE(Identity::load(tmp.path(), ec)) << std::oct << mode;
        EXPECT_EQ(ec, errc::key_file_permissions) << std::oct << mode;
        EXPECT_NE(ec.message().find("chmod 600"), std::string::npos);
    }
    ASSERT_EQ(::chmod((tmp / Identity::key_file).c_str(), 0400), 0);
    EXPECT_TRUE(Identity::load(tmp.path(), ec)) << ec.message();
}

TEST(Identity, RefusesCertificateOfAnotherKey) {
    TempDir tmp;
    std::error_code ec;
    auto a = Identity::generate({.node_id = "a"}, ec);
    auto b = Identity::generate({.node_id = "b"}, ec);
    ASSERT_FALSE(a->save(tmp.path()));
    cyxp2p::test::write_file(tmp / Identity::cert_file, b->certificate_pem());
    EXPECT_FALSE(Identity::load(tmp.path(), ec));
    EXPECT_EQ(ec, errc::key_cert_mismatch);
}

TEST(Identity, MissingAndCorruptFiles) {
    TempDir tmp;
    std::error_code ec;
    EXPECT_FALSE(Identity::load(tmp / "nowhere", ec));
    EXPECT_EQ(ec, errc::identity_not_found);
    ASSERT_FALSE(Identity::generate({.node_id = "n"}, ec)->save(tmp.path()));
    cyxp2p::test::write_file(tmp / Identity::cert_file,
                             "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    EXPECT_FALSE(Identity::load(tmp.path(), ec));
    EXPECT_EQ(ec, errc::bad_pem);
}

// A valid certificate followed by more than 1 MiB of anything is refused whole, not read up to the cap
// and parsed from the part that fit.
TEST(Identity, OversizedFileIsRefusedNotTruncated) {
    TempDir tmp;
    std::error_code ec;
    auto id = Identity::generate({.node_id = "n"}, ec);
    ASSERT_FALSE(id->save(tmp.path()));
    ASSERT_TRUE(Identity::load(tmp.path(), ec)) << ec.message();
    std::string padded = id->certificate_pem();
    padded.append((std::size_t{1} << 20) + 1, '\n');
    cyxp2p::test::write_file(tmp / Identity::cert_file, padded);
    EXPECT_FALSE(Identity::load(tmp.path(), ec));
    EXPECT_EQ(ec, errc::bad_pem);
}

}  // namespace
