// One HTTPS GET with every limit the JWKS client needs: a total deadline, a body limit, certificate and
// host-name verification. Blocking (it runs its own io_context); for JwksUrlSource's fetches.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace cyxp2p::net::detail {

struct HttpsUrl {
    std::string host;  // without brackets for an IPv6 literal
    std::uint16_t port = 443;
    std::string target = "/";  // path and query
};

/// https://HOST[:PORT][/PATH[?QUERY]]; no userinfo, no fragment. nullopt when it is anything else.
std::optional<HttpsUrl> parse_https_url(std::string_view url);

struct HttpsGetOptions {
    std::string ca_file;  // empty: the system CA store
    std::chrono::milliseconds timeout{};
    std::size_t max_body_bytes = 0;
};

struct HttpsResponse {
    unsigned status = 0;
    std::string body;
    std::string cache_control;
};

/// Errors: net::errc::connect_failed (resolve or connect), tls_failed (handshake, certificate, host name;
/// `detail` says which), keys_timeout, keys_too_large, connection_lost. An HTTP status is not an error here.
std::optional<HttpsResponse> https_get(const HttpsUrl& url, const HttpsGetOptions& options,
                                       std::error_code& ec, std::string& detail);

}  // namespace cyxp2p::net::detail
