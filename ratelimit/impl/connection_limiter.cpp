#include <algorithm>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <utility>

#include <cyxp2p/ratelimit/adaptive_deadline.hpp>
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

// A network (IPv4 /24, IPv6 /48) is tracked only while it has connections: there is no bucket to remember.
struct NetworkState {
    std::uint32_t connections = 0;
    std::uint32_t handshakes = 0;
};
using NetworkTable = detail::LruTable<NetworkState>;

constexpr std::uint32_t npos = 0xFFFFFFFFu;

// Takes a slot below `max`, never overshooting even for a moment (a fetch_add-then-undo could refuse
// someone else while the count is transiently too high).
bool reserve(std::atomic<std::size_t>& count, std::size_t max) noexcept {
    std::size_t cur = count.load(std::memory_order_relaxed);
    do {
        if (cur >= max) return false;
    } while (!count.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed));
    return true;
}

Admission refused(Decision d) noexcept {
    Admission a;
    a.decision = d;
    return a;
}

// The address's shard and the network's shard, locked without deadlock (std::lock orders them), once when
// they are the same.
class PairLock {
  public:
    PairLock(std::mutex& a, std::mutex& b) : a_(a), b_(&a == &b ? nullptr : &b) {
        if (b_ != nullptr)
            std::lock(a_, *b_);
        else
            a_.lock();
    }
    ~PairLock() {
        a_.unlock();
        if (b_ != nullptr) b_->unlock();
    }
    PairLock(const PairLock&) = delete;
    PairLock& operator=(const PairLock&) = delete;

  private:
    std::mutex& a_;
    std::mutex* b_;
};

}  // namespace

struct alignas(64) ConnectionLimiter::Shard {
    explicit Shard(std::size_t capacity) : table(capacity), networks(capacity) {}
    mutable std::mutex mu;
    Table table;
    NetworkTable networks;
    std::int64_t high_water = std::numeric_limits<std::int64_t>::min();
};

// The handshake slots, max_handshakes of them, allocated up front, linked oldest admission first. A permit
// names its slot by index and generation; the generation moves on whenever the slot changes hands (freed or
// evicted), so a permit whose slot was taken sees the mismatch and holds no global handshake any more.
struct ConnectionLimiter::Slots {
    struct Slot {
        std::function<void()> on_evicted;
        std::uint32_t generation = 0;
        std::uint32_t prev = npos;
        std::uint32_t next = npos;  // next in the list, or next free slot
    };
    explicit Slots(std::size_t n) : slots(n) {
        for (std::size_t i = 0; i < n; ++i)
            slots[i].next = i + 1 < n ? static_cast<std::uint32_t>(i + 1) : npos;
        free = n > 0 ? 0 : npos;
    }
    void unlink(std::uint32_t i) noexcept {
        Slot& s = slots[i];
        (s.prev == npos ? oldest : slots[s.prev].next) = s.next;
        (s.next == npos ? newest : slots[s.next].prev) = s.prev;
        s.prev = s.next = npos;
    }
    void link_newest(std::uint32_t i) noexcept {
        Slot& s = slots[i];
        s.prev = newest;
        s.next = npos;
        (newest == npos ? oldest : slots[newest].next) = i;
        newest = i;
    }
    bool holds(const Place& p) const noexcept { return slots[p.slot].generation == p.generation; }

    mutable std::mutex mu;
    std::vector<Slot> slots;
    std::uint32_t free = npos;
    std::uint32_t oldest = npos;
    std::uint32_t newest = npos;
};

// ---- ConnectionPermit ----

ConnectionPermit::ConnectionPermit(ConnectionPermit&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      place_(other.place_),
      handshake_(std::exchange(other.handshake_, false)) {}

ConnectionPermit& ConnectionPermit::operator=(ConnectionPermit&& other) noexcept {
    if (this != &other) {
        reset();
        owner_ = std::exchange(other.owner_, nullptr);
        place_ = other.place_;
        handshake_ = std::exchange(other.handshake_, false);
    }
    return *this;
}

bool ConnectionPermit::handshake_done() noexcept {
    if (owner_ == nullptr) return false;
    if (!handshake_) return true;
    handshake_ = false;
    return owner_->end_handshake(place_);
}

void ConnectionPermit::reset() noexcept {
    if (owner_ == nullptr) return;
    std::exchange(owner_, nullptr)->release(place_, std::exchange(handshake_, false));
}

void ConnectionPermit::on_evicted(std::function<void()> fn) {
    if (owner_ == nullptr || !handshake_) return;
    owner_->set_on_evicted(place_, std::move(fn));
}

bool ConnectionPermit::evicted() const noexcept {
    return owner_ != nullptr && handshake_ && owner_->is_evicted(place_);
}

// ---- ConnectionLimiter ----

ConnectionLimiter::ConnectionLimiter(const ConnectionLimits& limits)
    : limits_(limits), params_(limits.new_connections_per_address) {
    const std::size_t shards = limits.shards;
    if (shards == 0 || (shards & (shards - 1)) != 0 || shards > 4096)
        throw std::invalid_argument("ratelimit: shards must be a power of two in [1, 4096]");
    if (limits.max_connections >= npos)
        throw std::invalid_argument("ratelimit: max_connections must fit in 32 bits");
    if (limits.max_tracked_addresses < std::max(limits.max_connections, shards))
        throw std::invalid_argument(
            "ratelimit: max_tracked_addresses must be >= max_connections and >= shards");
    constexpr std::size_t u32 = std::numeric_limits<std::uint32_t>::max();
    if (limits.max_connections_per_address > u32 || limits.max_handshakes_per_address > u32 ||
        limits.max_connections_per_network > u32 || limits.max_handshakes_per_network > u32)
        throw std::invalid_argument("ratelimit: per-address and per-network limits must fit in 32 bits");
    if (limits.handshake_deadline.from_percent > 100)
        throw std::invalid_argument("ratelimit: handshake_deadline.from_percent must be in [0, 100]");
    const std::size_t per_shard = (limits.max_tracked_addresses + shards - 1) / shards;
    shard_mask_ = shards - 1;
    shards_.reserve(shards);
    for (std::size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>(per_shard));
    // Every handshake rides on a connection, so more slots than max_connections could never be used; they
    // are allocated up front.
    slots_ = std::make_unique<Slots>(std::min(limits.max_handshakes, limits.max_connections));
}

ConnectionLimiter::~ConnectionLimiter() = default;

std::uint32_t ConnectionLimiter::shard_index(std::uint64_t hash) const noexcept {
    return static_cast<std::uint32_t>((hash >> 52) & shard_mask_);
}

Admission ConnectionLimiter::admit(const Address& address, std::chrono::nanoseconds now) {
    const std::uint64_t hash = hash_(address.key());
    const std::uint64_t net_hash = hash_(address.network().key());
    Place place;
    place.shard = shard_index(hash);
    place.net_shard = shard_index(net_hash);
    Shard& shard = *shards_[place.shard];
    Shard& net_shard = *shards_[place.net_shard];
    std::function<void()> victim;
    Admission result;
    {
        const PairLock lock(shard.mu, net_shard.mu);
        shard.high_water = std::max(shard.high_water, now.count());
        const std::int64_t t = shard.high_water;  // a clock that went backwards grants nothing
        Table& table = shard.table;
        NetworkTable& networks = net_shard.networks;

        std::uint32_t i = table.find(hash);
        std::uint32_t n = networks.find(net_hash);
        // Work on copies; nothing is committed unless every check passes.
        AddressState s = i != Table::npos ? table[i].value : AddressState{params_.fresh(), 0, 0};
        NetworkState ns = n != NetworkTable::npos ? networks[n].value : NetworkState{};
        if (s.connections >= limits_.max_connections_per_address)
            return refused({errc::too_many_connections_from_address, {}});
        if (s.handshakes >= limits_.max_handshakes_per_address)
            return refused({errc::too_many_handshakes_from_address, {}});
        if (ns.connections >= limits_.max_connections_per_network)
            return refused({errc::too_many_connections_from_network, {}});
        if (ns.handshakes >= limits_.max_handshakes_per_network)
            return refused({errc::too_many_handshakes_from_network, {}});
        if (const Decision d = params_.take(s.bucket, 1, t, errc::connection_rate_limited); !d)
            return refused(detail::from_caller(d, t, now.count()));
        // Networks are only tracked while connected: nothing to evict, waiting alone does not help.
        if (n == NetworkTable::npos && networks.full()) return refused({errc::address_table_full, {}});
        if (i == Table::npos && table.full()) {
            // Listed entries are exactly the addresses without connections; the oldest is the first to idle.
            const std::uint32_t oldest = table.oldest();
            if (oldest == Table::npos) return refused({errc::address_table_full, {}});
            if (!params_.is_full(table[oldest].value.bucket, t))
                return refused(detail::from_caller(
                    {errc::address_table_full,
                     std::chrono::nanoseconds(params_.until_full(table[oldest].value.bucket, t))},
                    t, now.count()));
            table.erase(oldest);
        }
        if (!reserve(connections_, limits_.max_connections)) return refused({errc::too_many_connections, {}});
        {
            Slots& h = *slots_;
            const std::lock_guard slots_lock(h.mu);
            if (h.free != npos) {
                place.slot = h.free;
                h.free = h.slots[place.slot].next;
                handshakes_.fetch_add(1, std::memory_order_relaxed);
            } else if (limits_.evict_oldest_handshake && h.oldest != npos) {
                // The oldest pre-auth connection gives up its slot; it keeps its connection slot and its
                // per-address and per-network handshake counts until its permit is reset (the node closes
                // it at once), so nobody behind it is admitted on its behalf. The global count is unchanged.
                place.slot = h.oldest;
                h.unlink(place.slot);
                victim = std::move(h.slots[place.slot].on_evicted);
                ++h.slots[place.slot].generation;
                evictions_.fetch_add(1, std::memory_order_relaxed);
                result.evicted_other = true;
            } else {
                connections_.fetch_sub(1, std::memory_order_relaxed);
                return refused({errc::too_many_handshakes, {}});
            }
            h.slots[place.slot].on_evicted = nullptr;
            h.link_newest(place.slot);
            place.generation = h.slots[place.slot].generation;
        }

        ++s.connections;
        ++s.handshakes;
        ++ns.connections;
        ++ns.handshakes;
        if (i == Table::npos)
            i = table.insert(hash, s);
        else
            table[i].value = s;
        table.detach(i);  // pinned while it has connections: never evicted
        if (n == NetworkTable::npos) {
            n = networks.insert(net_hash, ns);
            networks.detach(n);  // never listed: erased when its last connection goes
        } else {
            networks[n].value = ns;
        }
        place.index = i;
        place.net_index = n;
        result.permit = ConnectionPermit(this, place);
    }
    if (victim) victim();  // outside every lock: it may post, log, or even admit
    return result;
}

bool ConnectionLimiter::give_back_slot(const Place& place) noexcept {
    std::function<void()> dropped;  // destroyed after the lock: its captures may be heavy
    Slots& h = *slots_;
    const std::lock_guard lock(h.mu);
    if (!h.holds(place)) return false;  // evicted: the slot and the global count went to a newer permit
    Slots::Slot& s = h.slots[place.slot];
    dropped = std::move(s.on_evicted);
    s.on_evicted = nullptr;
    ++s.generation;
    h.unlink(place.slot);
    s.next = h.free;
    h.free = place.slot;
    handshakes_.fetch_sub(1, std::memory_order_relaxed);
    return true;
}

bool ConnectionLimiter::end_handshake(const Place& place) noexcept {
    const bool held = give_back_slot(place);
    Shard& shard = *shards_[place.shard];
    Shard& net_shard = *shards_[place.net_shard];
    const PairLock lock(shard.mu, net_shard.mu);
    --shard.table[place.index].value.handshakes;
    --net_shard.networks[place.net_index].value.handshakes;
    return held;
}

void ConnectionLimiter::release(const Place& place, bool handshake) noexcept {
    if (handshake) give_back_slot(place);
    Shard& shard = *shards_[place.shard];
    Shard& net_shard = *shards_[place.net_shard];
    const PairLock lock(shard.mu, net_shard.mu);
    NetworkState& ns = net_shard.networks[place.net_index].value;
    --ns.connections;
    if (handshake) --ns.handshakes;
    if (ns.connections == 0) net_shard.networks.erase(place.net_index);
    AddressState& s = shard.table[place.index].value;
    --s.connections;
    if (handshake) --s.handshakes;
    connections_.fetch_sub(1, std::memory_order_relaxed);
    if (s.connections != 0) return;
    // Unpinned. Stamp it with the shard's time so the LRU list stays in `last` order, then either forget
    // it (bucket already full: forgetting is invisible) or list it as the newest eviction candidate.
    params_.refill(s.bucket, shard.high_water);
    if (params_.is_full(s.bucket, shard.high_water))
        shard.table.erase(place.index);
    else
        shard.table.attach(place.index);
}

void ConnectionLimiter::set_on_evicted(const Place& place, std::function<void()> fn) {
    {
        Slots& h = *slots_;
        const std::lock_guard lock(h.mu);
        if (h.holds(place)) {
            h.slots[place.slot].on_evicted = std::move(fn);
            return;
        }
    }
    if (fn) fn();  // evicted before anyone asked to hear of it
}

bool ConnectionLimiter::is_evicted(const Place& place) const noexcept {
    const std::lock_guard lock(slots_->mu);
    return !slots_->holds(place);
}

std::size_t ConnectionLimiter::connections(const Address& address) const {
    const std::uint64_t hash = hash_(address.key());
    const Shard& shard = *shards_[shard_index(hash)];
    const std::lock_guard lock(shard.mu);
    if (address.is_network()) {
        const std::uint32_t n = shard.networks.find(hash);
        return n == NetworkTable::npos ? 0 : shard.networks[n].value.connections;
    }
    const std::uint32_t i = shard.table.find(hash);
    return i == Table::npos ? 0 : shard.table[i].value.connections;
}

std::size_t ConnectionLimiter::handshakes(const Address& address) const {
    const std::uint64_t hash = hash_(address.key());
    const Shard& shard = *shards_[shard_index(hash)];
    const std::lock_guard lock(shard.mu);
    if (address.is_network()) {
        const std::uint32_t n = shard.networks.find(hash);
        return n == NetworkTable::npos ? 0 : shard.networks[n].value.handshakes;
    }
    const std::uint32_t i = shard.table.find(hash);
    return i == Table::npos ? 0 : shard.table[i].value.handshakes;
}

std::chrono::milliseconds ConnectionLimiter::handshake_deadline(
    std::chrono::milliseconds base) const noexcept {
    return adaptive_deadline(base, handshakes(), slots_->slots.size(), limits_.handshake_deadline);
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
