// The trustless-gateway request parser (content/gateway_request.hpp): the input is "METHOD\nTARGET\nACCEPT".
// Whatever it is, the parser answers a request or a refusal with a status the gateway can send and a reason;
// an accepted request names a CID whose text form parses back to it, and its response headers are set.
#include <cyxp2p/content/gateway_request.hpp>

#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cyxp2p::content;
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::string_view parts[3];
    for (int i = 0; i < 2; ++i) {
        const auto nl = in.find('\n');
        parts[i] = in.substr(0, nl);
        in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    }
    parts[2] = in;
    GatewayRefusal refusal;
    if (auto r = parse_gateway_request(parts[0], parts[1], parts[2], refusal)) {
        std::error_code ec;
        auto again = Cid::parse(r->cid.to_string(), ec);
        CYXP2P_FUZZ_CHECK(again && *again == r->cid);
        CYXP2P_FUZZ_CHECK(r->head == (parts[0] == "HEAD"));
        CYXP2P_FUZZ_CHECK(!gateway_content_type(*r).empty() && gateway_etag(*r).front() == '"');
    } else {
        CYXP2P_FUZZ_CHECK(refusal.status == 400 || refusal.status == 405 || refusal.status == 406);
        CYXP2P_FUZZ_CHECK(!refusal.reason.empty());
    }
    return 0;
}
