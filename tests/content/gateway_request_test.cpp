// The trustless-gateway request parser: formats from the query and from Accept (and which wins), scopes,
// dups, and every refusal with its status.
#include <gtest/gtest.h>

#include <cyxp2p/content/bytes.hpp>
#include <cyxp2p/content/gateway_request.hpp>

namespace c = cyxp2p::content;

namespace {

const std::string kCid =
    c::Cid::of_block(1, c::Codec::raw, c::as_bytes(std::string_view("hello"))).to_string();

std::optional<c::GatewayRequest> parse(std::string_view target, std::string_view accept = {},
                                       int* status = nullptr, std::string_view method = "GET") {
    c::GatewayRefusal r;
    auto req = c::parse_gateway_request(method, target, accept, r);
    if (status != nullptr) *status = req ? 200 : r.status;
    if (!req) {
        EXPECT_FALSE(r.reason.empty());
    }
    return req;
}

int status_of(std::string_view target, std::string_view accept = {}, std::string_view method = "GET") {
    int s = 0;
    parse(target, accept, &s, method);
    return s;
}

}  // namespace

TEST(GatewayRequest, FormatFromQueryOrAccept) {
    auto r = parse("/ipfs/" + kCid + "?format=raw");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->format, c::GatewayFormat::raw);
    EXPECT_EQ(r->cid.to_string(), kCid);
    EXPECT_FALSE(r->head);
    r = parse("/ipfs/" + kCid, "application/vnd.ipld.car");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->format, c::GatewayFormat::car);
    EXPECT_EQ(r->scope, c::DagScope::all);
    EXPECT_TRUE(r->dups);
    // The query wins over Accept.
    r = parse("/ipfs/" + kCid + "?format=raw", "application/vnd.ipld.car");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->format, c::GatewayFormat::raw);
    // The highest weight wins, q=0 excludes, case-insensitive types, parameters honoured.
    r = parse("/ipfs/" + kCid + "/",
              "application/vnd.ipld.raw;q=0.5, Application/Vnd.Ipld.Car;version=1;order=dfs;dups=n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->format, c::GatewayFormat::car);
    EXPECT_FALSE(r->dups);
    r = parse("/ipfs/" + kCid, "application/vnd.ipld.car;q=0, application/vnd.ipld.raw;q=0.1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->format, c::GatewayFormat::raw);
    // A CAR version we do not write makes that entry unusable.
    EXPECT_EQ(status_of("/ipfs/" + kCid, "application/vnd.ipld.car;version=2"), 406);
    r = parse("/ipfs/" + kCid, "application/vnd.ipld.car;version=2, application/vnd.ipld.raw;q=0.2");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->format, c::GatewayFormat::raw);
    r = parse("/ipfs/" + kCid, {}, nullptr, "HEAD");
    EXPECT_FALSE(r);  // no format at all
    r = parse("/ipfs/" + kCid + "?format=car&dag-scope=block&car-dups=n&unrelated=1", {}, nullptr, "HEAD");
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->head);
    EXPECT_EQ(r->scope, c::DagScope::block);
    EXPECT_FALSE(r->dups);
    EXPECT_EQ(parse("/ipfs/" + kCid + "?format=car&dag-scope=entity")->scope, c::DagScope::entity);
}

TEST(GatewayRequest, RefusalsCarryTheRightStatus) {
    EXPECT_EQ(status_of("/ipfs/" + kCid), 400);                    // strict trustless mode: say what
    EXPECT_EQ(status_of("/ipfs/" + kCid, "text/html, */*"), 406);  // nothing we serve
    EXPECT_EQ(status_of("/ipfs/" + kCid, "*/*"), 400);  // no preference between block and CAR: say which
    EXPECT_EQ(status_of("/ipfs/" + kCid + "?format=raw", {}, "POST"), 405);
    EXPECT_EQ(status_of("/ipfs/not-a-cid?format=raw"), 400);
    EXPECT_EQ(status_of("/ipfs/?format=raw"), 400);
    EXPECT_EQ(status_of("/ipns/example.com?format=car"), 400);
    EXPECT_EQ(status_of("/metrics"), 400);
    EXPECT_EQ(status_of("/ipfs/" + kCid + "/a/b.txt?format=car"), 400);  // no content paths
    EXPECT_EQ(status_of("/ipfs/" + kCid + "?format=dag-json"), 400);
    EXPECT_EQ(status_of("/ipfs/" + kCid + "?format=car&dag-scope=most"), 400);
    EXPECT_EQ(status_of("/ipfs/" + kCid + "?format=car&entity-bytes=0:99"), 400);
    EXPECT_EQ(status_of("/ipfs/" + kCid + "?format=car&car-version=2"), 400);
    EXPECT_EQ(status_of("/ipfs/" + kCid + "?format=car&format=raw"), 400);  // ambiguous
    EXPECT_EQ(status_of("/ipfs/" + kCid + "?format=raw&pad=" + std::string(3000, 'x')), 400);
    EXPECT_EQ(status_of("/ipfs/" + kCid, "application/vnd.ipld.raw;q=2"), 406);
    EXPECT_EQ(status_of("/ipfs/" + kCid, "application/vnd.ipld.raw;q=0.5x"), 406);
}

TEST(GatewayRequest, HeadersNameFormatAndScope) {
    auto raw = *parse("/ipfs/" + kCid + "?format=raw");
    EXPECT_EQ(c::gateway_content_type(raw), "application/vnd.ipld.raw");
    EXPECT_EQ(c::gateway_etag(raw), "\"" + kCid + ".raw\"");
    auto car = *parse("/ipfs/" + kCid + "?format=car");
    EXPECT_EQ(c::gateway_content_type(car), "application/vnd.ipld.car; version=1; order=dfs; dups=y");
    auto block = *parse("/ipfs/" + kCid + "?format=car&dag-scope=block&car-dups=n");
    EXPECT_EQ(c::gateway_content_type(block), "application/vnd.ipld.car; version=1; order=dfs; dups=n");
    EXPECT_NE(c::gateway_etag(car), c::gateway_etag(block));
    EXPECT_NE(c::gateway_etag(car), c::gateway_etag(raw));
}
