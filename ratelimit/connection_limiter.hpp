// ConnectionLimiter: concurrent connections and pre-auth handshakes, globally and per address, plus the rate
// of new connections per address. Admission hands out an RAII permit, so no path can leak a slot.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <cyxp2p/ratelimit/address.hpp>
#include <cyxp2p/ratelimit/detail/bucket.hpp>
#include <cyxp2p/ratelimit/detail/keyed_hash.hpp>
#include <cyxp2p/ratelimit/errc.hpp>
#include <cyxp2p/ratelimit/limits.hpp>

namespace cyxp2p::ratelimit {

class ConnectionLimiter;

/// One admitted connection: holds a connection slot and, until handshake_done(), a handshake slot, both
/// globally and for its address. Destruction (or reset()) gives back whatever it still holds. Move-only.
/// The ConnectionLimiter must outlive its permits.
class ConnectionPermit {
  public:
    ConnectionPermit() noexcept = default;
    ConnectionPermit(ConnectionPermit&& other) noexcept;
    ConnectionPermit& operator=(ConnectionPermit&& other) noexcept;
    ConnectionPermit(const ConnectionPermit&) = delete;
    ConnectionPermit& operator=(const ConnectionPermit&) = delete;
    ~ConnectionPermit() { reset(); }

    /// The peer authenticated (HELLO_ACK sent): give back the handshake slot, keep the connection slot.
    /// Idempotent.
    void handshake_done() noexcept;
    /// The connection closed: give back everything now. Idempotent.
    void reset() noexcept;

    bool holds_connection() const noexcept { return owner_ != nullptr; }
    bool in_handshake() const noexcept { return owner_ != nullptr && handshake_; }
    explicit operator bool() const noexcept { return holds_connection(); }

  private:
    friend class ConnectionLimiter;
    ConnectionPermit(ConnectionLimiter* owner, std::uint32_t shard, std::uint32_t index) noexcept
        : owner_(owner), shard_(shard), index_(index), handshake_(true) {}

    ConnectionLimiter* owner_ = nullptr;
    std::uint32_t shard_ = 0;
    std::uint32_t index_ = 0;
    bool handshake_ = false;
};

/// The result of ConnectionLimiter::admit: a permit when allowed, otherwise the reason (and retry_after).
struct Admission {
    Decision decision;
    ConnectionPermit permit;
    explicit operator bool() const noexcept { return decision.allowed(); }
};

/// Thread-safe: per-address state in locked shards (keyed-hash placement, like KeyedLimiter), global counts
/// in atomics. A new connection is admitted iff, in this order: the address is below
/// max_connections_per_address and max_handshakes_per_address, its new-connection bucket has a token, and
/// the node is below max_connections and max_handshakes. A refused attempt takes no token and no slot.
/// Addresses with live connections are never evicted; an address with none and a full bucket is idle.
class ConnectionLimiter {
  public:
    /// Throws std::invalid_argument for limits it cannot honour (e.g. max_tracked_addresses <
    /// max_connections).
    explicit ConnectionLimiter(const ConnectionLimits& limits = {});
    ~ConnectionLimiter();
    ConnectionLimiter(const ConnectionLimiter&) = delete;
    ConnectionLimiter& operator=(const ConnectionLimiter&) = delete;

    /// A new TCP connection from `address` at `now` (monotonic ns).
    Admission admit(const Address& address, std::chrono::nanoseconds now);

    std::size_t connections() const noexcept { return connections_.load(std::memory_order_relaxed); }
    std::size_t handshakes() const noexcept { return handshakes_.load(std::memory_order_relaxed); }
    std::size_t connections(const Address& address) const;
    std::size_t handshakes(const Address& address) const;
    /// Addresses tracked now (takes every shard lock).
    std::size_t tracked_addresses() const;
    const ConnectionLimits& limits() const noexcept { return limits_; }
    /// Bytes per tracked address: one table entry (hash, bucket, two counters, links) plus its hash head.
    static std::size_t bytes_per_address() noexcept;

  private:
    friend class ConnectionPermit;
    struct Shard;
    void release(std::uint32_t shard, std::uint32_t index, bool handshake) noexcept;
    void end_handshake(std::uint32_t shard, std::uint32_t index) noexcept;
    Shard& shard_of(std::uint64_t hash) const noexcept;

    ConnectionLimits limits_;
    detail::BucketParams params_;
    detail::KeyedHash hash_;
    std::size_t shard_mask_ = 0;
    std::vector<std::unique_ptr<Shard>> shards_;
    std::atomic<std::size_t> connections_{0};
    std::atomic<std::size_t> handshakes_{0};
};

}  // namespace cyxp2p::ratelimit
