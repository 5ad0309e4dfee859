// One GET to a trustless gateway for a multi-source fetch (multi_fetch.cpp): a fresh connection, HTTPS with
// the system CA store (or --gateway-ca), the host name checked, SNI for names; the body handed to the sink
// chunk by chunk. No verification here: the sink feeds content::MultiDownload, which checks every block.
#include "gateway_client.hpp"

#include <limits>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>

#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/protocol/errc.hpp>

namespace cyxp2p::net::detail {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

template <class Stream>
asio::awaitable<std::error_code> exchange(Stream& stream, const GatewayGet& r, const GatewaySink& sink) {
    const auto& cfg = r.source;
    const auto timeout = r.timeout;
    const auto& cancelled = r.cancelled;
    http::request<http::empty_body> req{http::verb::get, r.target, 11};
    req.set(http::field::host, cfg.host);
    req.set(http::field::accept, r.accept);
    req.set(http::field::user_agent, r.user_agent);
    boost::system::error_code ec;
    beast::get_lowest_layer(stream).expires_after(timeout);
    co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // bounded by the DAG's own limits
    if (!ec)
        co_await http::async_read_header(stream, buffer, parser,
                                         asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return make_error_code(net::errc::connection_lost);
    const unsigned status = parser.get().result_int();
    if (status == 429) co_return make_error_code(protocol::errc::rate_limited);
    if (status == 404) co_return make_error_code(protocol::errc::content_not_found);
    if (status != 200) co_return make_error_code(protocol::errc::bad_message);
    const std::string type(parser.get()[http::field::content_type]);
    // A unit is verified as it streams; only a DFS-ordered CAR can be (a gateway that answers order=unk
    // is no use as a source of subtrees).
    if (r.need_dfs &&
        (type.rfind("application/vnd.ipld.car", 0) != 0 || type.find("order=dfs") == std::string::npos))
        co_return make_error_code(content::errc::car_unordered_stream);
    std::vector<std::uint8_t> chunk(256 * 1024);
    while (!parser.is_done()) {
        if (cancelled && *cancelled) co_return make_error_code(protocol::errc::cancelled);
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        beast::get_lowest_layer(stream).expires_after(timeout);
        co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (ec == http::error::need_buffer) ec = {};
        if (ec) co_return make_error_code(net::errc::connection_lost);
        if (cancelled && *cancelled) co_return make_error_code(protocol::errc::cancelled);
        const std::size_t n = chunk.size() - parser.get().body().size;
        if (auto e = sink(content::ByteView(chunk.data(), n))) co_return e;
    }
    co_return std::error_code{};
}

}  // namespace

asio::awaitable<std::error_code> gateway_get(asio::any_io_executor io, asio::ssl::context& tls_ctx,
                                             GatewayGet r, GatewaySink sink) {
    const auto& cfg = r.source;
    const auto timeout = r.timeout;
    beast::tcp_stream tcp_stream(io);
    tcp::resolver resolver(io);
    boost::system::error_code ec;
    tcp_stream.expires_after(timeout);
    auto endpoints = co_await resolver.async_resolve(cfg.host, std::to_string(cfg.port),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) co_await tcp_stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return make_error_code(net::errc::connect_failed);
    if (!cfg.tls) co_return co_await exchange(tcp_stream, r, sink);
    beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp_stream), tls_ctx);
    tls.set_verify_callback(asio::ssl::host_name_verification(cfg.host));
    boost::system::error_code not_ip;
    asio::ip::make_address(cfg.host, not_ip);
    if (not_ip)  // SNI for a name only (RFC 6066 3); the macro's C cast spelled out
        SSL_ctrl(tls.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(cfg.host.c_str()));
    beast::get_lowest_layer(tls).expires_after(timeout);
    co_await tls.async_handshake(asio::ssl::stream_base::client,
                                 asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return make_error_code(net::errc::tls_failed);
    co_return co_await exchange(tls, r, sink);
}

}  // namespace cyxp2p::net::detail
