// The multi-source fetch's sources list (net/fetch_sources.hpp). Whatever the input, the parser accepts a
// list whose every source is usable as parsed (a node with an address, a port, a token and a pin or
// pin_from_token; a gateway with a host and port and no credentials), or refuses it with a reason.
#include <cyxp2p/net/fetch_sources.hpp>

#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using cyxp2p::net::FetchSource;
    std::string error;
    auto sources =
        cyxp2p::net::parse_fetch_sources(std::string_view(reinterpret_cast<const char*>(data), size), error);
    if (!sources) {
        CYXP2P_FUZZ_CHECK(!error.empty());
        return 0;
    }
    CYXP2P_FUZZ_CHECK(!sources->empty() && sources->size() <= cyxp2p::net::SourceLimits{}.max_sources);
    for (const auto& s : *sources) {
        CYXP2P_FUZZ_CHECK(!s.label.empty() && !s.host.empty() && s.port != 0);
        if (s.kind == FetchSource::Kind::gateway) {
            CYXP2P_FUZZ_CHECK(s.token.empty() && s.token_file.empty() && !s.pins);
        } else {
            CYXP2P_FUZZ_CHECK(s.pins || s.pin_from_token);
            CYXP2P_FUZZ_CHECK(s.token.empty() != s.token_file.empty());
            // The label names the source in results and logs: it never carries the token.
            CYXP2P_FUZZ_CHECK(s.token.empty() || s.label.find(s.token) == std::string::npos);
        }
    }
    return 0;
}
