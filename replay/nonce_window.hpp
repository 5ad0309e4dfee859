// NonceWindow: refuses a (key, nonce) seen before inside the timestamp window, with bounded memory.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include <cyxp2p/replay/errc.hpp>
#include <cyxp2p/replay/limits.hpp>

namespace cyxp2p::replay {

/// Accepts (key, 16-byte nonce, timestamp) iff the timestamp is within Limits::skew of now and that nonce was
/// not accepted for that key while it could still pass the timestamp check. Every HELLO and stream open
/// (ARCHITECTURE 3) goes through one of these.
///
/// - Time: `timestamp` and `now` are nanoseconds since the Unix epoch (the peer stamps wall-clock time). The
///   window never reads a clock. If `now` goes backwards the window keeps using the highest `now` it has
///   seen, so an old clock cannot bring an expired timestamp (and its forgotten nonce) back to life.
/// - Memory: at most Limits::nonce_capacity entries of bytes_per_entry() bytes each. When full, new nonces
/// are
///   refused with errc::window_full and a retry_after; unexpired entries are never evicted.
/// - Keys are opaque bytes (peer id, session id, ...). The table stores a 128-bit SipHash of (key, nonce)
///   under a random per-instance key, so keys cannot be chosen to collide in the hash table; a collision only
///   ever makes a fresh nonce look like a duplicate (fail closed), never lets a replay through.
/// - Thread-safe: sharded, one mutex per shard, O(1) average per check.
class NonceWindow {
  public:
    using Nonce = std::span<const std::uint8_t, 16>;

    /// Throws std::invalid_argument for limits it cannot honour (zero capacity, shards not a power of two,
    /// ...) and std::runtime_error if the random seed cannot be drawn.
    explicit NonceWindow(const Limits& limits = {});
    ~NonceWindow();
    NonceWindow(const NonceWindow&) = delete;
    NonceWindow& operator=(const NonceWindow&) = delete;

    /// Checks and, when accepted, records the nonce. Order: timestamp, duplicate, capacity.
    Verdict check(std::string_view key, Nonce nonce, std::chrono::nanoseconds timestamp,
                  std::chrono::nanoseconds now);

    /// Frees expired entries in every shard (a check does this for its own shard). For an idle-time timer.
    void expire(std::chrono::nanoseconds now);

    /// Entries held now (takes every shard lock; for tests and metrics).
    std::size_t size() const;
    /// Bytes currently allocated by the tables (entries, hash heads, time buckets).
    std::size_t memory_bytes() const;
    std::size_t capacity() const noexcept { return capacity_; }
    const Limits& limits() const noexcept { return limits_; }

    /// Bytes per remembered nonce: one entry plus its share of the hash heads at full load.
    static std::size_t bytes_per_entry() noexcept;

  private:
    struct Shard;
    Limits limits_;
    std::size_t capacity_ = 0;
    std::size_t shard_mask_ = 0;
    std::vector<std::unique_ptr<Shard>> shards_;
    std::array<std::uint8_t, 16> key_seed_{};    // SipHash-2-4 key for the peer key
    std::array<std::uint8_t, 16> entry_seed_{};  // SipHash-2-4-128 key for (key hash, nonce)
};

}  // namespace cyxp2p::replay
