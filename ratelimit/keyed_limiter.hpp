// KeyedLimiter: one token bucket per key (address, peer id, method, ...) in a bounded, sharded table.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include <cyxp2p/ratelimit/address.hpp>
#include <cyxp2p/ratelimit/detail/bucket.hpp>
#include <cyxp2p/ratelimit/detail/keyed_hash.hpp>
#include <cyxp2p/ratelimit/errc.hpp>
#include <cyxp2p/ratelimit/limits.hpp>

namespace cyxp2p::ratelimit {

/// Every key gets KeyedLimits::rate. Thread-safe (one mutex per shard), O(1) average per call.
///
/// - Bounded: at most max_keys keys. A key whose bucket has refilled to burst is idle: forgetting it is
///   invisible, since it would come back as the same full bucket. When the table is full, the least recently
///   used key is evicted if idle; otherwise the new key is refused (errc::table_full, retry_after = when that
///   key will be idle). An attacker with many keys therefore cannot evict a key that is still refilling (and
///   so reset its limit), and cannot grow memory; at worst new keys wait, which fails closed.
/// - Keys are stored as a 64-bit SipHash under a random per-instance key (hash-flooding resistant); the
///   key bytes themselves are not kept. State per key: bytes_per_key().
/// - Time: `now` is a monotonic nanosecond count; per shard the highest `now` seen is used, so a clock going
///   backwards grants nothing.
class KeyedLimiter {
  public:
    /// Throws std::invalid_argument for limits it cannot honour.
    explicit KeyedLimiter(const KeyedLimits& limits = {});
    ~KeyedLimiter();
    KeyedLimiter(const KeyedLimiter&) = delete;
    KeyedLimiter& operator=(const KeyedLimiter&) = delete;

    /// Takes n tokens from the key's bucket. Denials: rate_limited (exact retry_after), exceeds_burst,
    /// table_full.
    Decision try_acquire(std::string_view key, std::chrono::nanoseconds now, std::uint64_t n = 1);
    /// The same for an IPv4 /32 or IPv6 /64 (Address keys never collide with string keys).
    Decision try_acquire(const Address& address, std::chrono::nanoseconds now, std::uint64_t n = 1);

    /// Keys tracked now (takes every shard lock).
    std::size_t size() const;
    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t memory_bytes() const;
    /// Bytes per tracked key: one table entry (hash, 16-byte bucket, links) plus its hash head.
    static std::size_t bytes_per_key() noexcept;

  private:
    struct Shard;
    Decision acquire(std::uint64_t hash, std::chrono::nanoseconds now, std::uint64_t n);

    detail::BucketParams params_;
    detail::KeyedHash hash_;
    std::size_t capacity_ = 0;
    std::size_t shard_mask_ = 0;
    std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace cyxp2p::ratelimit
