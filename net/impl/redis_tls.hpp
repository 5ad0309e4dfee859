// RedisTlsLink: rediss:// for a hiredis without TLS (Debian 12's 0.14 has no hiredis_ssl). The client thread
// opens the TCP connection and the TLS session itself, then hands hiredis one end of a socketpair; a small
// relay thread moves bytes between the other end and the TLS session. hiredis keeps its blocking API,
// its timeouts (which now bound the round trip through the relay) and its parser; it never sees TLS.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>

#include <cyxp2p/net/redis.hpp>

namespace cyxp2p::net::detail {

class RedisTlsLink {
  public:
    /// Connects to `ep` (ep.tls), verifies the server's certificate chain (ep.ca_file, else the system
    /// store) and its name (ep.host: a DNS name or an IP address), presents ep.cert_file/ep.key_file when
    /// set, all within `timeout`. On failure returns null with `ec` (redis_unavailable: no TCP connection;
    /// redis_tls_file: a CA/cert/key file; redis_tls_failed: the handshake or the verification) and `why`,
    /// a message for the operator that says what to check.
    static std::unique_ptr<RedisTlsLink> open(const RedisEndpoint& ep, std::chrono::nanoseconds timeout,
                                              std::error_code& ec, std::string& why);
    /// Stops the relay and joins it. Call it after hiredis has closed its end (redisFree), or not: the
    /// relay is stopped either way.
    ~RedisTlsLink();
    RedisTlsLink(const RedisTlsLink&) = delete;
    RedisTlsLink& operator=(const RedisTlsLink&) = delete;

    /// hiredis's end of the socketpair, for redisConnectFd, which takes it over (redisFree closes it).
    /// Once: later calls return -1.
    int release_client_fd() noexcept;

    /// Why the relay ended ("" while it runs, or when hiredis closed first): a TLS alert from the server
    /// (a client certificate it requires arrives after TLS 1.3's handshake, at the first read), an error,
    /// or the server's close. For messages: hiredis only sees the socketpair close.
    std::string failure() const;

  private:
    struct Impl;
    explicit RedisTlsLink(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace cyxp2p::net::detail
