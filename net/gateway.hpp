// An IPFS Trustless Gateway (specs.ipfs.tech/http-gateways/trustless-gateway) over plain HTTP/1.1, serving
// what a node's Blockstore holds: `GET`/`HEAD /ipfs/{cid}` as one raw block or as a CAR v1 of the DAG in DFS
// order (content/gateway_request.hpp says which requests are understood). A gateway needs no trust: every
// client verifies every block against the CID it asked for, which is why it may be public and plain HTTP.
// It is off by default (p2p-node run --gateway HOST:PORT). Limits: net::GatewayLimits.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/net/clock.hpp>
#include <cyxp2p/net/limits.hpp>

namespace cyxp2p::net {

struct GatewayOptions {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;  // 0: any free port (local_port() says which)
    GatewayLimits limits{};
    /// The connection and request limiters' monotonic time (net/clock.hpp): give it the node's clock. Null:
    /// system_clock(). Tests pass a ManualClock. The request and write deadlines are socket timeouts on
    /// Asio's steady clock.
    std::shared_ptr<const Clock> clock{};
};

/// Counters since start (all requests, whatever their outcome).
struct GatewayStats {
    std::uint64_t requests = 0;
    std::uint64_t refused_connections = 0;  // over a connection limit
    std::uint64_t rate_limited = 0;         // 429
    std::uint64_t not_found = 0;            // 404
    std::uint64_t bad_requests = 0;         // 400, 405, 406
    std::uint64_t bytes_sent = 0;           // response bodies
    std::uint64_t aborted = 0;  // a CAR cut short (a block missing or damaged mid-walk, or a stall)
};

class Gateway {
  public:
    /// `store` is read from the gateway's own threads (Blockstore reads are independent file reads).
    Gateway(content::Blockstore store, GatewayOptions options);
    ~Gateway();
    Gateway(const Gateway&) = delete;
    Gateway& operator=(const Gateway&) = delete;

    /// Binds and serves. errc::address_in_use when the port is taken, std::errc::invalid_argument for an
    /// address that does not parse.
    std::error_code start();
    /// Closes the listener and every connection, and joins the threads. Idempotent.
    void stop();
    std::uint16_t local_port() const;
    GatewayStats stats() const;

  private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace cyxp2p::net
