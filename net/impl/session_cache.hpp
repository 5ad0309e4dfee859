// TLS sessions for resumption on the engine, keyed by (node, pin set): the verify hook does not run on a
// resumed session, so a session may only be reused for exactly the pins it was verified against
// (pinning::check_established re-checks the stored peer certificate anyway).
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <string>

#include <openssl/types.h>

namespace cyxp2p::net::detail {

class SessionCache {
  public:
    explicit SessionCache(std::size_t capacity) : capacity_(capacity) {}
    ~SessionCache();
    SessionCache(const SessionCache&) = delete;
    SessionCache& operator=(const SessionCache&) = delete;

    /// Makes `ctx` hand the sessions (TLS 1.3 tickets) of its client connections to this cache. The cache
    /// must outlive every connection made with `ctx`.
    void attach(SSL_CTX* ctx);
    /// Tags a new connection with `key`, under which its tickets will be stored, and offers the session
    /// cached under `key`, if any.
    void prepare(SSL* ssl, const std::string& key);

    /// A new reference to the session under `key`, or null.
    SSL_SESSION* get(const std::string& key);
    /// Takes the reference `s`; evicts the oldest key when full.
    void put(const std::string& key, SSL_SESSION* s);

  private:
    std::mutex mutex_;
    std::size_t capacity_;
    std::map<std::string, SSL_SESSION*> map_;
};

}  // namespace cyxp2p::net::detail
