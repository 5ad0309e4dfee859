// KeySet and FileKeySource: whole sets replaced atomically, never an empty one, a failed reload keeps the
// set in force and says why.
#include <thread>

#include <gtest/gtest.h>
#include <support.hpp>
#include <sys/stat.h>

#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/auth/key_source.hpp>

namespace auth = cyxp2p::auth;
using cyxp2p::test::TempDir;
using cyxp2p::test::write_file;

namespace {

std::shared_ptr<const auth::Keyring> ring_of(std::initializer_list<const char*> kids) {
    auto ring = std::make_shared<auth::Keyring>();
    for (const char* kid : kids) EXPECT_FALSE(ring->add(auth::Jwk::generate(auth::Algorithm::eddsa, kid)));
    return ring;
}

TEST(KeySet, RefusesNullAndEmptySets) {
    EXPECT_THROW(auth::KeySet(nullptr), std::invalid_argument);
    EXPECT_THROW(auth::KeySet(std::make_shared<auth::Keyring>()), std::invalid_argument);
    auth::KeySet set(ring_of({"a"}));
    EXPECT_EQ(set.replace(std::make_shared<auth::Keyring>()), auth::errc::unsupported_key);
    EXPECT_EQ(set.replace(nullptr), auth::errc::unsupported_key);
    ASSERT_NE(set.current()->find("a"), nullptr);  // still in force
    const auto st = set.status();
    EXPECT_EQ(st.loads_ok, 1U);
    EXPECT_EQ(st.loads_failed, 2U);
    EXPECT_EQ(st.last_error, auth::errc::unsupported_key);
}

TEST(KeySet, ReplaceIsWholeSetAndAHolderKeepsItsSnapshot) {
    auth::KeySet set(ring_of({"a"}));
    std::int64_t wall = 1'000;
    set.set_wall_clock([&] { return wall; });
    auto before = set.current();
    wall = 2'000;
    ASSERT_FALSE(set.replace(ring_of({"b", "c"})));
    EXPECT_NE(before->find("a"), nullptr);  // a verification in flight finishes with the set it took
    EXPECT_EQ(set.current()->find("a"), nullptr);
    EXPECT_NE(set.current()->find("c"), nullptr);
    const auto st = set.status();
    EXPECT_EQ(st.keys, 2U);
    EXPECT_EQ(st.loaded_at_s, 2'000);
    EXPECT_EQ(st.loads_ok, 2U);
    EXPECT_FALSE(st.last_error);
}

TEST(KeySet, ReadersNeverSeeAnEmptyOrTornSetWhileItIsReplaced) {
    auth::KeySet set(ring_of({"a", "b"}));
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0};
    std::thread reader([&] {
        while (!stop) {
            auto k = set.current();
            if (!k || k->keys().size() != 2) bad++;
        }
    });
    for (int i = 0; i < 200; ++i) ASSERT_FALSE(set.replace(ring_of({i % 2 ? "a" : "c", "b"})));
    stop = true;
    reader.join();
    EXPECT_EQ(bad, 0);
}

TEST(FileKeySource, ReloadPicksUpANewKeyAndABrokenFileKeepsTheOld) {
    TempDir tmp;
    const auto path = tmp / "jwks.json";
    write_file(path, ring_of({"k1"})->to_public_jwks());
    std::error_code ec;
    std::string detail;
    auto source = auth::FileKeySource::open(path, ec, &detail);
    ASSERT_TRUE(source) << ec.message() << " " << detail;
    EXPECT_NE(source->current()->find("k1"), nullptr);

    write_file(path, ring_of({"k1", "k2"})->to_public_jwks());
    ASSERT_FALSE(source->reload());
    EXPECT_NE(source->current()->find("k2"), nullptr);

    write_file(path, "{\"keys\": [");  // a half-written file
    EXPECT_EQ(source->reload(&detail), auth::errc::bad_key);
    EXPECT_NE(source->current()->find("k2"), nullptr);
    EXPECT_EQ(source->status().last_error, auth::errc::bad_key);
    EXPECT_EQ(source->status().loads_failed, 1U);

    write_file(path, "{\"keys\": []}");  // no usable key: never an empty set
    EXPECT_TRUE(source->reload());
    EXPECT_EQ(source->current()->keys().size(), 2U);

    std::filesystem::remove(path);
    EXPECT_TRUE(source->reload());
    EXPECT_EQ(source->current()->keys().size(), 2U);
}

TEST(FileKeySource, OpenFailsOnAMissingFile) {
    TempDir tmp;
    std::error_code ec;
    EXPECT_FALSE(auth::FileKeySource::open(tmp / "missing.json", ec));
    EXPECT_TRUE(ec);
}

}  // namespace
