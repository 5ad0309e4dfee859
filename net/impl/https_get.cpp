// HTTPS GET over Boost.Beast and OpenSSL for the JWKS client (net/detail/https_get.hpp).
#include <cctype>
#include <charconv>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cyxp2p/net/detail/asio.hpp>
#include <cyxp2p/net/detail/https_get.hpp>
#include <cyxp2p/net/errc.hpp>

namespace cyxp2p::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::optional<HttpsUrl> parse_https_url(std::string_view url) {
    constexpr std::string_view scheme = "https://";
    if (url.size() <= scheme.size() || url.substr(0, scheme.size()) != scheme) return std::nullopt;
    url.remove_prefix(scheme.size());
    const auto slash = url.find_first_of("/?");
    std::string_view authority = url.substr(0, slash);
    HttpsUrl out;
    if (slash != std::string_view::npos) {
        out.target = std::string(url.substr(slash));
        if (out.target.front() == '?') out.target.insert(0, "/");
    }
    // RFC 3986 3.2.1: userinfo in an https URL is deprecated and a phishing trick; a fragment is client-side.
    if (authority.find('@') != std::string_view::npos || out.target.find('#') != std::string::npos)
        return std::nullopt;
    for (const char c : out.target) {
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
            return std::nullopt;
    }
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        out.host = std::string(authority.substr(1, close - 1));
        const auto rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return std::nullopt;
            port = rest.substr(1);
        }
    } else {
        const auto colon = authority.rfind(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (out.host.empty()) return std::nullopt;
    for (const char c : out.host) {
        const bool ok = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == ':';
        if (!ok) return std::nullopt;
    }
    if (!port.empty() || (authority.size() > 0 && authority.back() == ':')) {
        unsigned p = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
        if (ec != std::errc{} || end != port.data() + port.size() || p == 0 || p > 65535) return std::nullopt;
        out.port = static_cast<std::uint16_t>(p);
    }
    return out;
}

std::optional<HttpsResponse> https_get(const HttpsUrl& url, const HttpsGetOptions& options,
                                       std::error_code& ec, std::string& detail) {
    ec.clear();
    detail.clear();
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    boost::system::error_code bec;
    if (options.ca_file.empty()) {
        ctx.set_default_verify_paths(bec);
    } else {
        ctx.load_verify_file(options.ca_file, bec);
    }
    if (bec) {
        ec = errc::tls_failed;
        detail = (options.ca_file.empty() ? std::string("system CA store") : "CA file " + options.ca_file) +
                 ": " + bec.message();
        return std::nullopt;
    }

    asio::io_context io(1);
    tcp::resolver resolver(io);
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    SSL* ssl = stream.native_handle();
    // RFC 6125: the certificate must name the host we asked for; an IP literal is matched as an IP SAN.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    boost::system::error_code addr_ec;
    asio::ip::make_address(url.host, addr_ec);
    if (!addr_ec) {
        X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str());
    } else {
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0);
        // RFC 6066 3: SNI, for names only. SSL_set_tlsext_host_name is a macro with a C cast.
        SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(url.host.c_str()));
    }

    HttpsResponse out;
    bool done = false;
    auto fail = [&](std::error_code code, std::string what) {
        ec = code;
        detail = std::move(what);
    };
    auto run = [&]() -> asio::awaitable<void> {
        boost::system::error_code e;
        const auto endpoints = co_await resolver.async_resolve(url.host, std::to_string(url.port),
                                                               asio::redirect_error(asio::use_awaitable, e));
        if (e) co_return fail(errc::connect_failed, "resolve " + url.host + ": " + e.message());
        co_await beast::get_lowest_layer(stream).async_connect(endpoints,
                                                               asio::redirect_error(asio::use_awaitable, e));
        if (e) co_return fail(errc::connect_failed, "connect " + url.host + ": " + e.message());
        co_await stream.async_handshake(asio::ssl::stream_base::client,
                                        asio::redirect_error(asio::use_awaitable, e));
        if (e) {
            const long verify = SSL_get_verify_result(ssl);
            std::string why = verify != X509_V_OK
                                  ? std::string("certificate: ") + X509_verify_cert_error_string(verify)
                                  : e.message();
            ERR_clear_error();  // this thread's queue; the verify result says what matters
            co_return fail(errc::tls_failed, "TLS with " + url.host + ": " + why);
        }
        http::request<http::empty_body> req{http::verb::get, url.target, 11};
        const bool default_port = url.port == 443;
        const std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
        req.set(http::field::host, default_port ? host : host + ":" + std::to_string(url.port));
        req.set(http::field::accept, "application/jwk-set+json, application/json");
        req.set(http::field::user_agent, "cyxp2p-node");
        co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, e));
        if (e) co_return fail(errc::connection_lost, "send request: " + e.message());
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(options.max_body_bytes);
        co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, e));
        if (e == http::error::body_limit || e == http::error::header_limit ||
            e == http::error::buffer_overflow) {
            co_return fail(errc::keys_too_large,
                           "response larger than " + std::to_string(options.max_body_bytes) + " bytes");
        }
        if (e) co_return fail(errc::connection_lost, "read response: " + e.message());
        auto res = parser.release();
        out.status = res.result_int();
        out.cache_control = std::string(res[http::field::cache_control]);
        out.body = std::move(res.body());
        done = true;
    };
    bool finished = false;
    asio::co_spawn(io, run(), [&](std::exception_ptr) { finished = true; });
    io.run_for(options.timeout);
    if (!finished) {
        // One deadline for everything: cancel whatever is pending and let the coroutine unwind.
        resolver.cancel();
        beast::get_lowest_layer(stream).close();
        io.restart();
        io.run();
        fail(errc::keys_timeout, "no complete response from " + url.host + " within " +
                                     std::to_string(options.timeout.count()) + " ms");
        return std::nullopt;
    }
    if (!done) return std::nullopt;
    return out;
}

}  // namespace cyxp2p::net::detail
