// One HTTP(S) GET to an IPFS trustless gateway, for the multi-source fetch (multi_fetch.cpp). Internal to
// net/: not part of the public API.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <cyxp2p/content/bytes.hpp>
#include <cyxp2p/net/multi_fetch.hpp>

namespace cyxp2p::net::detail {

namespace asio = boost::asio;

struct GatewayGet {
    const MultiFetchSource& source;  // host, port, tls
    std::string target;              // "/ipfs/CID?format=raw"
    std::string accept;
    bool need_dfs = false;  // refuse a CAR whose Content-Type does not say order=dfs (car_unordered_stream)
    std::chrono::milliseconds timeout;  // each phase and each read
    std::shared_ptr<bool> cancelled;    // set by the caller: the read stops (cancelled)
    std::string user_agent;
};

/// Receives the body chunk by chunk; an error stops the read and is returned.
using GatewaySink = std::function<std::error_code(content::ByteView)>;

/// Errors: net::errc connect_failed, tls_failed, connection_lost; protocol::errc rate_limited (429),
/// content_not_found (404), bad_message (another status), cancelled; car_unordered_stream; the sink's.
asio::awaitable<std::error_code> gateway_get(asio::any_io_executor io, asio::ssl::context& tls, GatewayGet r,
                                             GatewaySink sink);

}  // namespace cyxp2p::net::detail
