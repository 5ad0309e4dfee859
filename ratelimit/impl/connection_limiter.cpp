#include <algorithm>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <utility>

#include <cyxp2p/ratelimit/connection_limiter.hpp>
#include <cyxp2p/ratelimit/detail/lru_table.hpp>

namespace cyxp2p::ratelimit {
namespace {

struct AddressState {
    detail::BucketState bucket;
    std::uint32_t connections = 0;
    std::uint32_t handshakes = 0;  // <= connections: a handshake always rides on a connection
};
using Table = detail::LruTable<AddressState>;

// Takes a slot below `max`, never overshooting even for a moment (a fetch_add-then-undo could refuse
// someone else while the count is transiently too high).
bool reserve(std::atomic<std::size_t>& count, std::size_t max) noexcept {
    std::size_t cur = count.load(std::memory_order_relaxed);
    do {
        if (cur >= max) return false;
    } while (!count.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed));
    return true;
}

}  // namespace

struct alignas(64) ConnectionLimiter::Shard {
    explicit Shard(std::size_t capacity) : table(capacity) {}
    mutable std::mutex mu;
    Table table;
    std::int64_t high_water = std::numeric_limits<std::int64_t>::min();
};

// ---- ConnectionPermit ----

ConnectionPermit::ConnectionPermit(ConnectionPermit&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      shard_(other.shard_),
      index_(other.index_),
      handshake_(std::exchange(other.handshake_, false)) {}

ConnectionPermit& ConnectionPermit::operator=(ConnectionPermit&& other) noexcept {
    if (this != &other) {
        reset();
        owner_ = std::exchange(other.owner_, nullptr);
        shard_ = other.shard_;
        index_ = other.index_;
        handshake_ = std::exchange(other.handshake_, false);
    }
    return *this;
}

void ConnectionPermit::handshake_done() noexcept {
    if (owner_ == nullptr || !handshake_) return;
    handshake_ = false;
    owner_->end_handshake(shard_, index_);
}

void ConnectionPermit::reset() noexcept {
    if (owner_ == nullptr) return;
    std::exchange(owner_, nullptr)->release(shard_, index_, std::exchange(handshake_, false));
}

// ---- ConnectionLimiter ----

ConnectionLimiter::ConnectionLimiter(const ConnectionLimits& limits)
    : limits_(limits), params_(limits.new_connections_per_address) {
    const std::size_t shards = limits.shards;
    if (shards == 0 || (shards & (shards - 1)) != 0 || shards > 4096)
        throw std::invalid_argument("ratelimit: shards must be a power of two in [1, 4096]");
    if (limits.max_tracked_addresses < std::max(limits.max_connections, shards))
        throw std::invalid_argument(
            "ratelimit: max_tracked_addresses must be >= max_connections and >= shards");
    if (limits.max_connections_per_address > std::numeric_limits<std::uint32_t>::max() ||
        limits.max_handshakes_per_address > std::numeric_limits<std::uint32_t>::max())
        throw std::invalid_argument("ratelimit: per-address limits must fit in 32 bits");
    const std::size_t per_shard = (limits.max_tracked_addresses + shards - 1) / shards;
    shard_mask_ = shards - 1;
    shards_.reserve(shards);
    for (std::size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>(per_shard));
}

ConnectionLimiter::~ConnectionLimiter() = default;

ConnectionLimiter::Shard& ConnectionLimiter::shard_of(std::uint64_t hash) const noexcept {
    return *shards_[static_cast<std::size_t>(hash >> 52) & shard_mask_];
}

Admission ConnectionLimiter::admit(const Address& address, std::chrono::nanoseconds now) {
    const std::uint64_t hash = hash_(address.key());
    Shard& shard = shard_of(hash);
    const std::lock_guard lock(shard.mu);
    shard.high_water = std::max(shard.high_water, now.count());
    const std::int64_t t = shard.high_water;  // a clock that went backwards grants nothing
    Table& table = shard.table;

    std::uint32_t i = table.find(hash);
    AddressState s = i != Table::npos ? table[i].value : AddressState{params_.fresh(), 0, 0};
    // Work on a copy; nothing is committed unless every check passes.
    if (s.connections >= limits_.max_connections_per_address)
        return {{errc::too_many_connections_from_address, {}}, {}};
    if (s.handshakes >= limits_.max_handshakes_per_address)
        return {{errc::too_many_handshakes_from_address, {}}, {}};
    if (const Decision d = params_.take(s.bucket, 1, t, errc::connection_rate_limited); !d)
        return {detail::from_caller(d, t, now.count()), {}};
    if (i == Table::npos && table.full()) {
        // Listed entries are exactly the addresses without connections; the oldest is the first to idle.
        const std::uint32_t oldest = table.oldest();
        if (oldest == Table::npos) return {{errc::address_table_full, {}}, {}};
        if (!params_.is_full(table[oldest].value.bucket, t))
            return {detail::from_caller(
                        {errc::address_table_full,
                         std::chrono::nanoseconds(params_.until_full(table[oldest].value.bucket, t))},
                        t, now.count()),
                    {}};
        table.erase(oldest);
    }
    if (!reserve(connections_, limits_.max_connections)) return {{errc::too_many_connections, {}}, {}};
    if (!reserve(handshakes_, limits_.max_handshakes)) {
        connections_.fetch_sub(1, std::memory_order_relaxed);
        return {{errc::too_many_handshakes, {}}, {}};
    }

    ++s.connections;
    ++s.handshakes;
    if (i == Table::npos)
        i = table.insert(hash, s);
    else
        table[i].value = s;
    table.detach(i);  // pinned while it has connections: never evicted
    const auto shard_index = static_cast<std::uint32_t>((hash >> 52) & shard_mask_);
    return {{}, ConnectionPermit(this, shard_index, i)};
}

void ConnectionLimiter::end_handshake(std::uint32_t shard_index, std::uint32_t index) noexcept {
    Shard& shard = *shards_[shard_index];
    const std::lock_guard lock(shard.mu);
    --shard.table[index].value.handshakes;
    handshakes_.fetch_sub(1, std::memory_order_relaxed);
}

void ConnectionLimiter::release(std::uint32_t shard_index, std::uint32_t index, bool handshake) noexcept {
    Shard& shard = *shards_[shard_index];
    const std::lock_guard lock(shard.mu);
    AddressState& s = shard.table[index].value;
    --s.connections;
    if (handshake) {
        --s.handshakes;
        handshakes_.fetch_sub(1, std::memory_order_relaxed);
    }
    connections_.fetch_sub(1, std::memory_order_relaxed);
    if (s.connections != 0) return;
    // Unpinned. Stamp it with the shard's time so the LRU list stays in `last` order, then either forget
    // it (bucket already full: forgetting is invisible) or list it as the newest eviction candidate.
    params_.refill(s.bucket, shard.high_water);
    if (params_.is_full(s.bucket, shard.high_water))
        shard.table.erase(index);
    else
        shard.table.attach(index);
}

std::size_t ConnectionLimiter::connections(const Address& address) const {
    const std::uint64_t hash = hash_(address.key());
    Shard& shard = shard_of(hash);
    const std::lock_guard lock(shard.mu);
    const std::uint32_t i = shard.table.find(hash);
    return i == Table::npos ? 0 : shard.table[i].value.connections;
}

std::size_t ConnectionLimiter::handshakes(const Address& address) const {
    const std::uint64_t hash = hash_(address.key());
    Shard& shard = shard_of(hash);
    const std::lock_guard lock(shard.mu);
    const std::uint32_t i = shard.table.find(hash);
    return i == Table::npos ? 0 : shard.table[i].value.handshakes;
}

std::size_t ConnectionLimiter::tracked_addresses() const {
    std::size_t n = 0;
    for (const auto& shard : shards_) {
        const std::lock_guard lock(shard->mu);
        n += shard->table.size();
    }
    return n;
}

std::size_t ConnectionLimiter::bytes_per_address() noexcept {
    return Table::bytes_per_entry();
}

}  // namespace cyxp2p::ratelimit
