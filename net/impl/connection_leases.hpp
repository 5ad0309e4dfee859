// ConnectionLeases: the connection limits before TLS that a fleet shares through Redis (docs/fleet.md,
// "Connection leases"): new connections per address (GCRA on the server's clock) and concurrent connections
// per address (one lease per connection in a sorted set, scored by its expiry). One script decides both,
// atomically; each process renews its live connections' leases in one call every lease_ttl / 3 and removes
// a lease when its connection closes, so the leases of a process that died expire after lease_ttl.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <cyxp2p/net/admission.hpp>
#include <cyxp2p/net/metrics.hpp>
#include <cyxp2p/net/redis.hpp>
#include <cyxp2p/ratelimit/address.hpp>
#include <cyxp2p/ratelimit/limits.hpp>

namespace cyxp2p::net {

/// One connection's lease: removed from Redis (ZREM) and from its process's renewals when destroyed or
/// reset. Empty when the connection was admitted without one (no fleet, or Redis down under `local`).
class ConnectionLease {
  public:
    struct Registry;  // connection_leases.cpp: the live leases a process renews
    ConnectionLease() = default;
    ConnectionLease(std::weak_ptr<Registry> registry, std::string key, std::string member) noexcept;
    ConnectionLease(ConnectionLease&& other) noexcept = default;
    ConnectionLease& operator=(ConnectionLease&& other) noexcept;
    ConnectionLease(const ConnectionLease&) = delete;
    ConnectionLease& operator=(const ConnectionLease&) = delete;
    ~ConnectionLease() { reset(); }
    void reset() noexcept;
    bool held() const noexcept { return !member_.empty(); }

  private:
    std::weak_ptr<Registry> registry_;
    std::string key_;
    std::string member_;
};

/// What the fleet said about a new connection.
struct LeaseVerdict {
    enum class Result {
        admitted,      // within both limits; `lease` held
        rate_limited,  // the address's new-connection bucket is empty fleet-wide
        too_many,      // the address has max_connections_per_address live leases fleet-wide
        unavailable,   // Redis did not answer (policy refuse): refused
        fallback,      // Redis did not answer (policy local): admitted on the local limits alone, no lease
    };
    Result result = Result::admitted;
    ConnectionLease lease{};
    std::string why{};  // for the audit log: the Redis error, when there was one
    /// "admitted", "fleet_rate_limited", "fleet_too_many_connections_from_address", "fleet_unavailable",
    /// "fleet_fallback" (audit results).
    const char* name() const noexcept;
    bool admits() const noexcept { return result == Result::admitted || result == Result::fallback; }
};

class ConnectionLeases {
  public:
    using Done = std::function<void(LeaseVerdict)>;
    /// `metrics` (fleet_connections_* and fleet_lease_* counters) may be null; `prefix` must not be empty.
    /// Starts the renewal thread.
    ConnectionLeases(std::shared_ptr<RedisClient> redis, std::string prefix, RedisUnavailable policy,
                     std::chrono::milliseconds lease_ttl, Metrics* metrics = nullptr);
    /// Stops renewing. Leases still held are not removed: they expire (what a process that dies leaves).
    ~ConnectionLeases();
    ConnectionLeases(const ConnectionLeases&) = delete;
    ConnectionLeases& operator=(const ConnectionLeases&) = delete;

    /// One EVALSHA: charges `address`'s new-connection bucket (`rate`, GCRA on redis.call('TIME')) and takes
    /// a lease unless it already has `max_per_address` live ones. `done` runs once, on the Redis client's
    /// thread or inline: it must be quick (post the rest).
    void acquire(const ratelimit::Address& address, std::size_t max_per_address, const ratelimit::Rate& rate,
                 Done done);

    /// For tests: this process "dies": it renews nothing more and removes no lease on close.
    void abandon();
    /// The leases this process holds and renews.
    std::size_t held() const;

    /// The two keys of an address: its new-connection bucket and its lease set.
    std::string rate_key(const ratelimit::Address& address) const;
    std::string lease_key(const ratelimit::Address& address) const;
    static const std::string& acquire_script();
    static const std::string& renew_script();

  private:
    void renew_loop();
    void renew_once();

    std::shared_ptr<RedisClient> redis_;
    std::string prefix_;
    RedisUnavailable policy_;
    std::chrono::milliseconds ttl_;
    Metrics* metrics_;
    std::string process_id_;  // random, per process: lease members are process-id:connection-id
    std::shared_ptr<ConnectionLease::Registry> registry_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::thread renewer_;
};

}  // namespace cyxp2p::net
