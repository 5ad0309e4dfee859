// One shard of NonceWindow: a fixed-capacity set of 128-bit digests that expire by time bucket.
// Single-threaded; NonceWindow locks around it. Not part of the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <cyxp2p/replay/errc.hpp>

namespace cyxp2p::replay::detail {

struct Digest {
    std::uint64_t lo = 0;
    std::uint64_t hi = 0;
};

/// Entries live in an index-linked arena: a chained hash set (chains through hash_next) and, threaded through
/// the same nodes, one singly linked list per time bucket of expiry (time_next). Expiring a bucket walks only
/// its own list, so the cost of expiry is proportional to what is freed (amortised O(1) per insert) and never
/// to the size of a time jump. Indices are 32-bit to keep a node at 24 bytes.
class NonceTable {
  public:
    /// skew_ns, bucket_ns > 0; capacity in [1, 2^32 - 2]. Throws std::invalid_argument otherwise.
    NonceTable(std::size_t capacity, std::int64_t skew_ns, std::int64_t bucket_ns);

    Verdict check(Digest d, std::int64_t timestamp, std::int64_t now);
    void expire(std::int64_t now);

    std::size_t size() const noexcept { return size_; }
    std::size_t memory_bytes() const noexcept;

    struct Node {
        std::uint64_t lo;
        std::uint64_t hi;
        std::uint32_t hash_next;  // next in hash chain, or next free node
        std::uint32_t time_next;  // next in the same expiry bucket
    };
    static constexpr std::uint32_t npos = 0xFFFFFFFFu;

  private:
    void advance(std::int64_t now);
    void free_bucket(std::size_t slot);
    std::size_t ring_slot(std::int64_t bucket) const noexcept;
    std::int64_t retry_after() const noexcept;

    std::size_t capacity_;
    std::int64_t skew_;
    std::int64_t width_;
    std::vector<Node> nodes_;           // grows up to capacity_, released when the table empties
    std::vector<std::uint32_t> heads_;  // hash chain heads, a power of two >= capacity_
    std::vector<std::uint32_t> ring_;   // time bucket heads, indexed by bucket number mod ring size
    std::uint32_t free_ = npos;
    std::size_t size_ = 0;
    bool started_ = false;
    std::int64_t high_water_ = 0;  // highest `now` seen: time never runs backwards for this table
    std::int64_t oldest_ = 0;      // number of the oldest time bucket not yet expired
};

}  // namespace cyxp2p::replay::detail
