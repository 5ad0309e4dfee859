// ConnectionLimiter: concurrent connections and pre-auth handshakes, globally, per address and per network,
// plus the rate of new connections per address; when the handshake table is full, the oldest pre-auth
// connection is evicted for a new one. Admission hands out an RAII permit, so no path can leak a slot.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <cyxp2p/ratelimit/address.hpp>
#include <cyxp2p/ratelimit/detail/bucket.hpp>
#include <cyxp2p/ratelimit/detail/keyed_hash.hpp>
#include <cyxp2p/ratelimit/errc.hpp>
#include <cyxp2p/ratelimit/limits.hpp>

namespace cyxp2p::ratelimit {

class ConnectionLimiter;

/// One admitted connection: holds a connection slot and, until handshake_done(), a handshake slot, globally,
/// for its address and for its network. Destruction (or reset()) gives back whatever it still holds.
/// Move-only. The ConnectionLimiter must outlive its permits. One permit is used by one thread at a time;
/// eviction by another thread's admit() is synchronised inside the limiter.
class ConnectionPermit {
  public:
    ConnectionPermit() noexcept = default;
    ConnectionPermit(ConnectionPermit&& other) noexcept;
    ConnectionPermit& operator=(ConnectionPermit&& other) noexcept;
    ConnectionPermit(const ConnectionPermit&) = delete;
    ConnectionPermit& operator=(const ConnectionPermit&) = delete;
    ~ConnectionPermit() { reset(); }

    /// The peer authenticated (HELLO_ACK sent): give back the handshake slot, keep the connection slot.
    /// Idempotent. False if a newer connection had already taken the slot (evicted(); the on_evicted
    /// callback runs or ran, and the caller may still keep the connection: it holds its connection slot and
    /// needs no handshake slot now) or the permit holds nothing.
    bool handshake_done() noexcept;
    /// The connection closed: give back everything now. Idempotent.
    void reset() noexcept;

    /// What to do when a newer connection takes this permit's handshake slot: close the connection at once.
    /// Runs at most once, only while the permit is in handshake: on the thread of the admit() that evicted
    /// it, outside the limiter's locks, and possibly after this permit is gone, so `fn` must be thread-safe,
    /// must not throw, and must not refer to anything the permit's owner may have destroyed (capture a
    /// weak_ptr). Already evicted: runs `fn` now, on this thread. Replaces an earlier `fn`; handshake_done()
    /// and reset() drop it.
    void on_evicted(std::function<void()> fn);
    /// A newer connection took this permit's handshake slot (takes the limiter's handshake-table lock).
    bool evicted() const noexcept;

    bool holds_connection() const noexcept { return owner_ != nullptr; }
    /// Holds a handshake slot, or did until it was evicted and has not yet been reset.
    bool in_handshake() const noexcept { return owner_ != nullptr && handshake_; }
    explicit operator bool() const noexcept { return holds_connection(); }

  private:
    friend class ConnectionLimiter;
    struct Place {
        std::uint32_t shard = 0;  // the address entry
        std::uint32_t index = 0;
        std::uint32_t net_shard = 0;  // the network entry
        std::uint32_t net_index = 0;
        std::uint32_t slot = 0;  // the handshake slot, valid while the slot's generation matches
        std::uint32_t generation = 0;
    };
    ConnectionPermit(ConnectionLimiter* owner, const Place& place) noexcept
        : owner_(owner), place_(place), handshake_(true) {}

    ConnectionLimiter* owner_ = nullptr;
    Place place_{};
    bool handshake_ = false;
};

/// The result of ConnectionLimiter::admit: a permit when allowed, otherwise the reason (and retry_after).
struct Admission {
    Decision decision;
    ConnectionPermit permit;
    /// Admitted into the slot of the oldest pre-auth connection, which was told (on_evicted).
    bool evicted_other = false;
    explicit operator bool() const noexcept { return decision.allowed(); }
};

/// Thread-safe: per-address and per-network state in locked shards (keyed-hash placement, like
/// KeyedLimiter), global counts in atomics, the handshake slots in one locked table in admission order. A new
/// connection is admitted iff, in this order: the address is below max_connections_per_address and
/// max_handshakes_per_address, its network below max_connections_per_network and
/// max_handshakes_per_network, the address's new-connection bucket has a token, the node is below
/// max_connections, and the node is below max_handshakes or (evict_oldest_handshake) the oldest pre-auth
/// connection gives up its slot. A refused attempt takes no token and no slot. Addresses with live
/// connections are never evicted from the table; an address with none and a full bucket is idle.
/// Lock order: shard locks, then the handshake table; callbacks run after both are released.
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
    /// Pre-auth connections that gave up their slot to a newer one, since construction.
    std::uint64_t evictions() const noexcept { return evictions_.load(std::memory_order_relaxed); }
    /// Per address, or per network when `address` is an Address::network().
    std::size_t connections(const Address& address) const;
    std::size_t handshakes(const Address& address) const;
    /// `base` shortened by how full the handshake table is now (adaptive_deadline with the limits'
    /// handshake_deadline policy): the deadline to give a connection starting its TLS or HELLO now.
    std::chrono::milliseconds handshake_deadline(std::chrono::milliseconds base) const noexcept;
    /// Addresses tracked now (takes every shard lock).
    std::size_t tracked_addresses() const;
    const ConnectionLimits& limits() const noexcept { return limits_; }
    /// Bytes per tracked address: one table entry (hash, bucket, two counters, links) plus its hash head.
    static std::size_t bytes_per_address() noexcept;

  private:
    friend class ConnectionPermit;
    struct Shard;
    struct Slots;
    using Place = ConnectionPermit::Place;
    void release(const Place& place, bool handshake) noexcept;
    bool end_handshake(const Place& place) noexcept;
    bool give_back_slot(const Place& place) noexcept;
    void set_on_evicted(const Place& place, std::function<void()> fn);
    bool is_evicted(const Place& place) const noexcept;
    std::uint32_t shard_index(std::uint64_t hash) const noexcept;

    ConnectionLimits limits_;
    detail::BucketParams params_;
    detail::KeyedHash hash_;
    std::size_t shard_mask_ = 0;
    std::vector<std::unique_ptr<Shard>> shards_;
    std::atomic<std::size_t> connections_{0};
    std::atomic<std::size_t> handshakes_{0};  // written under the Slots lock
    std::atomic<std::uint64_t> evictions_{0};
    std::unique_ptr<Slots> slots_;
};

}  // namespace cyxp2p::ratelimit
