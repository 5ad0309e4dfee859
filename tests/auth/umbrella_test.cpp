// Includes only the umbrella header, to prove it is self-contained and offers the whole module.
#include <gtest/gtest.h>

#include <cyxp2p/auth/auth.hpp>

namespace auth = cyxp2p::auth;

TEST(AuthUmbrella, MintsAndVerifiesThroughAKeyring) {
    auth::Keyring keys;
    ASSERT_FALSE(keys.add(auth::Jwk::generate(auth::Algorithm::eddsa, "k1")));
    auth::Claims c;
    c.subject = "user-1";
    c.node_id = "node-1";
    c.session_id = "sess-1";
    c.issued_at = 1'700'000'000;
    c.expires_at = c.issued_at + 600;
    c.scope = {std::string(*auth::required_scope("job.submit"))};
    std::error_code ec;
    auto token = auth::mint(c, *keys.find("k1"), ec);
    ASSERT_TRUE(token) << ec.message();
    EXPECT_LE(token->size(), auth::Limits{}.max_token_bytes);
}
