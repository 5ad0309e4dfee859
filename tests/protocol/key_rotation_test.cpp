// Keys rotated while sessions run (docs/auth.md "Key rotation"): the node session reads the set in force for
// every HELLO and REAUTH, so a REAUTH after a rotation is verified with the new set, a session opened before
// it keeps running, and an unknown kid is reported to the source (which may refetch).
#include <gtest/gtest.h>

#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/auth/key_source.hpp>
#include <cyxp2p/protocol/engine_session.hpp>
#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/protocol/node_session.hpp>
#include <cyxp2p/replay/nonce_window.hpp>

#include "session_rig.hpp"

namespace auth = cyxp2p::auth;
namespace p = cyxp2p::protocol;
using Kind = p::Event::Kind;
using cyxp2p::test::kT0;

namespace {

std::shared_ptr<const auth::Keyring> ring_of(const auth::Jwk& key) {
    auto ring = std::make_shared<auth::Keyring>();
    EXPECT_FALSE(ring->add(key));
    return ring;
}

std::string mint(const auth::Jwk& key, std::int64_t issued_at = kT0) {
    std::error_code ec;
    auto t = auth::mint(cyxp2p::test::p2p_claims("node-1", issued_at), key, ec);
    EXPECT_TRUE(t) << ec.message();
    return t.value_or("");
}

// A KeySet that also records the kids it was told about.
class RecordingKeys final : public auth::KeySource {
  public:
    explicit RecordingKeys(std::shared_ptr<const auth::Keyring> keys) : set_(std::move(keys)) {}
    std::shared_ptr<const auth::Keyring> current() const override { return set_.current(); }
    auth::KeySourceStatus status() const override { return set_.status(); }
    void unknown_kid(std::string_view kid) const override { kids.emplace_back(kid); }

    auth::KeySet set_;
    mutable std::vector<std::string> kids;
};

class KeyRotation : public ::testing::Test {
  protected:
    KeyRotation()
        : old_key_(auth::Jwk::generate(auth::Algorithm::eddsa, "k-old")),
          new_key_(auth::Jwk::generate(auth::Algorithm::eddsa, "k-new")),
          keys_(ring_of(old_key_)) {
        config_.node_id = "node-1";
        services_.keys = &keys_;
        services_.nonces = &nonces_;
    }

    std::optional<p::Event> find(p::EngineSession& s, Kind k) {
        std::optional<p::Event> out;
        while (auto e = s.poll_event()) {
            if (e->kind == k && !out) out = std::move(*e);
        }
        return out;
    }

    p::Now now_ = cyxp2p::test::at(kT0 + 10);
    auth::Jwk old_key_, new_key_;
    RecordingKeys keys_;
    cyxp2p::replay::NonceWindow nonces_{cyxp2p::replay::Limits{}};
    p::NodeConfig config_;
    p::NodeServices services_;
};

TEST_F(KeyRotation, ReauthAfterRotationIsVerifiedWithTheNewSet) {
    p::NodeSession node(config_, services_, now_);
    p::EngineSession engine(cyxp2p::test::engine_config(mint(old_key_)), now_);
    ASSERT_TRUE(cyxp2p::test::pump(engine, node, now_));
    ASSERT_TRUE(engine.ready());
    ASSERT_TRUE(node.authenticated());
    cyxp2p::test::drop_events(engine);

    // The Central Server moved to k-new and k-old was dropped: the running session is untouched...
    ASSERT_FALSE(keys_.set_.replace(ring_of(new_key_)));
    EXPECT_FALSE(node.closed());
    // ...and its REAUTH, signed with the new key, is accepted by the same session.
    now_ += std::chrono::seconds(1800);
    ASSERT_FALSE(engine.reauth(mint(new_key_, kT0 + 1800), now_));
    ASSERT_TRUE(cyxp2p::test::pump(engine, node, now_));
    auto ack = find(engine, Kind::reauthenticated);
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->handshake.token_expiry, kT0 + 1800 + 3600);
    EXPECT_TRUE(keys_.kids.empty());
}

TEST_F(KeyRotation, ReauthWithARemovedKeyIsRefusedAndTheKidReported) {
    p::NodeSession node(config_, services_, now_);
    p::EngineSession engine(cyxp2p::test::engine_config(mint(old_key_)), now_);
    ASSERT_TRUE(cyxp2p::test::pump(engine, node, now_));
    ASSERT_TRUE(node.authenticated());
    cyxp2p::test::drop_events(engine);

    ASSERT_FALSE(keys_.set_.replace(ring_of(new_key_)));
    ASSERT_FALSE(engine.reauth(mint(old_key_), now_));
    ASSERT_TRUE(cyxp2p::test::pump(engine, node, now_));
    EXPECT_TRUE(node.closed());
    auto closed = find(engine, Kind::closed);
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->error, p::errc::token_rejected);
    EXPECT_EQ(keys_.kids, std::vector<std::string>{"k-old"});
}

TEST_F(KeyRotation, HelloWithAKeyAddedAfterStartIsAccepted) {
    {
        p::NodeSession node(config_, services_, now_);
        p::EngineSession engine(cyxp2p::test::engine_config(mint(new_key_)), now_);
        ASSERT_TRUE(cyxp2p::test::pump(engine, node, now_));
        EXPECT_FALSE(node.authenticated());
        EXPECT_EQ(keys_.kids, std::vector<std::string>{"k-new"});
    }
    auto both = std::make_shared<auth::Keyring>(*ring_of(old_key_));
    ASSERT_FALSE(both->add(new_key_));
    ASSERT_FALSE(keys_.set_.replace(both));
    p::NodeSession node(config_, services_, now_);
    p::EngineSession engine(cyxp2p::test::engine_config(mint(new_key_), cyxp2p::test::counting_random(7)),
                            now_);
    ASSERT_TRUE(cyxp2p::test::pump(engine, node, now_));
    EXPECT_TRUE(node.authenticated());
}

}  // namespace
