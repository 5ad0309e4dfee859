#include <algorithm>
#include <limits>
#include <mutex>
#include <stdexcept>

#include <cyxp2p/ratelimit/detail/lru_table.hpp>
#include <cyxp2p/ratelimit/keyed_limiter.hpp>

namespace cyxp2p::ratelimit {
namespace {

using Table = detail::LruTable<detail::BucketState>;

// Address keys are hashed with this folded in, so an address and a string with the same bytes differ.
constexpr std::uint64_t kAddressDomain = 0x9e3779b97f4a7c15u;

}  // namespace

struct alignas(64) KeyedLimiter::Shard {
    explicit Shard(std::size_t capacity) : table(capacity) {}
    mutable std::mutex mu;
    Table table;
    std::int64_t high_water = std::numeric_limits<std::int64_t>::min();
};

KeyedLimiter::KeyedLimiter(const KeyedLimits& limits) : params_(limits.rate) {
    const std::size_t shards = limits.shards;
    if (shards == 0 || (shards & (shards - 1)) != 0 || shards > 4096)
        throw std::invalid_argument("ratelimit: shards must be a power of two in [1, 4096]");
    if (limits.max_keys < shards) throw std::invalid_argument("ratelimit: max_keys must be >= shards");
    const std::size_t per_shard = (limits.max_keys + shards - 1) / shards;
    capacity_ = per_shard * shards;
    shard_mask_ = shards - 1;
    shards_.reserve(shards);
    for (std::size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>(per_shard));
}

KeyedLimiter::~KeyedLimiter() = default;

Decision KeyedLimiter::try_acquire(std::string_view key, std::chrono::nanoseconds now, std::uint64_t n) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(key.data());
    return acquire(hash_({p, key.size()}), now, n);
}

Decision KeyedLimiter::try_acquire(const Address& address, std::chrono::nanoseconds now, std::uint64_t n) {
    return acquire(hash_(address.key()) ^ kAddressDomain, now, n);
}

Decision KeyedLimiter::acquire(std::uint64_t hash, std::chrono::nanoseconds now, std::uint64_t n) {
    // High bits pick the shard, low bits the chain: independent under a keyed hash.
    Shard& shard = *shards_[static_cast<std::size_t>(hash >> 52) & shard_mask_];
    const std::lock_guard lock(shard.mu);
    // Every access stamps the bucket with the shard's high-water time, so the LRU order is also the order
    // of `last`, and the oldest entry is the first to become idle when no one touches it.
    shard.high_water = std::max(shard.high_water, now.count());
    const std::int64_t t = shard.high_water;
    Table& table = shard.table;

    std::uint32_t i = table.find(hash);
    if (i == Table::npos) {
        if (n > params_.burst()) return {errc::exceeds_burst, Decision::never()};
        if (table.full()) {
            const std::uint32_t oldest = table.oldest();
            if (!params_.is_full(table[oldest].value, t)) {
                const Decision d{errc::table_full,
                                 std::chrono::nanoseconds(params_.until_full(table[oldest].value, t))};
                return detail::from_caller(d, t, now.count());
            }
            table.erase(oldest);
        }
        i = table.insert(hash, params_.fresh());
    } else {
        table.touch(i);
    }
    return detail::from_caller(params_.take(table[i].value, n, t), t, now.count());
}

std::size_t KeyedLimiter::size() const {
    std::size_t n = 0;
    for (const auto& shard : shards_) {
        const std::lock_guard lock(shard->mu);
        n += shard->table.size();
    }
    return n;
}

std::size_t KeyedLimiter::memory_bytes() const {
    std::size_t n = 0;
    for (const auto& shard : shards_) {
        const std::lock_guard lock(shard->mu);
        n += shard->table.memory_bytes();
    }
    return n;
}

std::size_t KeyedLimiter::bytes_per_key() noexcept {
    return Table::bytes_per_entry();
}

}  // namespace cyxp2p::ratelimit
