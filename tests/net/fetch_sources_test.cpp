// net::parse_fetch_sources: the three source shapes, and each refusal names the source and what is wrong.
#include <gtest/gtest.h>

#include <cyxp2p/net/fetch_sources.hpp>

namespace net = cyxp2p::net;

namespace {

const std::string kPin = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

std::string refused(std::string_view text) {
    std::string error;
    auto s = net::parse_fetch_sources(text, error);
    EXPECT_FALSE(s) << text;
    return error;
}

}  // namespace

TEST(FetchSources, NodesAndGatewaysParse) {
    std::string error;
    auto s = net::parse_fetch_sources(R"([{"address": "10.0.0.5:7400", "pin": ")" + kPin +
                                          R"(", "token_file": "t.jwt"},
            {"address": "[::1]:7401", "pin_from_token": true, "token": "eyJ.e30.sig"},
            {"gateway": "https://gw.example"}, {"gateway": "http://127.0.0.1:8080/"}])",
                                      error);
    ASSERT_TRUE(s) << error;
    ASSERT_EQ(s->size(), 4u);
    const auto& a = (*s)[0];
    EXPECT_EQ(a.kind, net::FetchSource::Kind::node);
    EXPECT_EQ(a.host, "10.0.0.5");
    EXPECT_EQ(a.port, 7400);
    EXPECT_TRUE(a.pins);
    EXPECT_EQ(a.token_file, "t.jwt");
    EXPECT_EQ(a.label, "10.0.0.5:7400");
    const auto& b = (*s)[1];
    EXPECT_EQ(b.host, "::1");
    EXPECT_TRUE(b.pin_from_token);
    EXPECT_FALSE(b.pins);
    EXPECT_EQ(b.label.find("eyJ"), std::string::npos);  // the label never carries the token
    EXPECT_EQ((*s)[2].kind, net::FetchSource::Kind::gateway);
    EXPECT_TRUE((*s)[2].tls);
    EXPECT_EQ((*s)[2].port, 443);
    EXPECT_EQ((*s)[3].port, 8080);
    EXPECT_FALSE((*s)[3].tls);
}

TEST(FetchSources, EachMistakeIsNamed) {
    EXPECT_EQ(refused(R"([{"address": "h:1", "pin": "x", "pins": "y", "token": "t"}])"),
              "source 1: unknown key \"pins\" (expected address, pin, pin_from_token, token, token_file or "
              "gateway)");
    EXPECT_NE(refused(R"([{"address": "h:1", "token": "t"}])").find("source 1: missing \"pin\""),
              std::string::npos);
    EXPECT_NE(
        refused(R"([{"gateway": "http://g"}, {"address": "nowhere", "pin_from_token": true, "token": "t"}])")
            .find("source 2: bad address \"nowhere\""),
        std::string::npos);
    EXPECT_NE(refused(R"([{"address": "h:0", "pin_from_token": true, "token": "t"}])").find("1..65535"),
              std::string::npos);
    EXPECT_NE(refused(R"([{"address": "h:1", "pin": "sha256//short", "token": "t"}])").find("bad pin"),
              std::string::npos);
    EXPECT_NE(
        refused(R"([{"address": "h:1", "pin_from_token": true}])").find("needs \"token_file\" or \"token\""),
        std::string::npos);
    EXPECT_NE(refused(R"([{"address": "h:1", "pin_from_token": true, "token": "t", "token_file": "f"}])")
                  .find("not both"),
              std::string::npos);
    EXPECT_NE(refused(R"([{"gateway": "https://g/ipfs/x"}])").find("no path"), std::string::npos);
    EXPECT_NE(refused(R"([{"gateway": "https://g", "token": "t"}])").find("only \"gateway\""),
              std::string::npos);
    EXPECT_NE(refused(R"([{"address": "h:1", "pin_from_token": "yes", "token": "t"}])").find("true or false"),
              std::string::npos);
    // Strict JSON: a duplicate key, a top level that is not an array, an empty list.
    EXPECT_NE(refused(R"([{"address": "h:1", "address": "h:2", "pin_from_token": true, "token": "t"}])")
                  .find("no duplicate keys"),
              std::string::npos);
    EXPECT_NE(refused(R"({"address": "h:1"})").find("one JSON array"), std::string::npos);
    EXPECT_EQ(refused("[]"), "the sources list is empty");
    std::string many = "[";
    for (int i = 0; i < 33; ++i) many += std::string(i ? "," : "") + R"({"gateway": "http://g"})";
    EXPECT_EQ(refused(many + "]"), "more than 32 sources");
}
