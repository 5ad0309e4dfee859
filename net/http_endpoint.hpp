// A small HTTP/1.1 endpoint for operators: GET /metrics (Prometheus text) and GET /healthz, also as HEAD and
// with any query string (ignored). Plain HTTP on purpose: bind it to loopback or a management network. One
// request per connection, 5 s to send it, Beast's 8 KiB header limit, no body accepted.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

namespace cyxp2p::net {

class HttpEndpoint {
  public:
    HttpEndpoint(std::string address, std::uint16_t port, std::function<std::string()> metrics,
                 std::function<bool()> healthy);
    ~HttpEndpoint();
    HttpEndpoint(const HttpEndpoint&) = delete;
    HttpEndpoint& operator=(const HttpEndpoint&) = delete;

    /// Binds and serves on its own thread. errc::address_in_use when the port is taken.
    std::error_code start();
    void stop();
    std::uint16_t local_port() const;

  private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace cyxp2p::net
