// Includes only the umbrella header, to prove it is self-contained.
#include <gtest/gtest.h>

#include <cyxp2p/content/content.hpp>

TEST(Umbrella, HeaderIsSelfContained) {
    cyxp2p::content::Importer imp(cyxp2p::content::ImportOptions::kubo_default());
    std::error_code ec;
    auto r = imp.finish(ec);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->root.to_string(), "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH");
}
