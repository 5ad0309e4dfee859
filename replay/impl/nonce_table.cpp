#include <algorithm>
#include <limits>
#include <stdexcept>

#include <cyxp2p/replay/detail/nonce_table.hpp>

namespace cyxp2p::replay::detail {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

// Timestamps are attacker-controlled and `now` may jump anywhere: clamp instead of overflowing.
std::int64_t sat_add(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t r = 0;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kMax : kMin;
    return r;
}
std::int64_t sat_sub(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t r = 0;
    if (__builtin_sub_overflow(a, b, &r)) return b > 0 ? kMin : kMax;
    return r;
}
std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t q = a / b;
    if (a % b != 0 && a < 0) --q;
    return q;
}
std::size_t pow2_at_least(std::size_t n) {
    std::size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

}  // namespace

NonceTable::NonceTable(std::size_t capacity, std::int64_t skew_ns, std::int64_t bucket_ns)
    : capacity_(capacity), skew_(skew_ns), width_(bucket_ns) {
    if (capacity == 0 || capacity >= npos)
        throw std::invalid_argument("replay: nonce capacity per shard out of range");
    if (skew_ns <= 0 || bucket_ns <= 0)
        throw std::invalid_argument("replay: skew and bucket_width must be positive");
    // Entries expire at most 2 x skew after now (timestamp up to now + skew, kept until timestamp + skew), so
    // ceil(2 x skew / width) + 2 buckets cover every live entry without two bucket numbers sharing a slot.
    const std::int64_t span = skew_ns > kMax / 2 ? kMax : 2 * skew_ns;
    const std::int64_t buckets = span / bucket_ns + (span % bucket_ns != 0 ? 1 : 0) + 2;
    if (buckets > (std::int64_t{1} << 22))
        throw std::invalid_argument("replay: 2 x skew / bucket_width is too large: widen bucket_width");
    ring_.assign(static_cast<std::size_t>(buckets), npos);
    heads_.assign(pow2_at_least(capacity), npos);
}

std::size_t NonceTable::memory_bytes() const noexcept {
    return nodes_.capacity() * sizeof(Node) + heads_.capacity() * sizeof(std::uint32_t) +
           ring_.capacity() * sizeof(std::uint32_t);
}

std::size_t NonceTable::ring_slot(std::int64_t bucket) const noexcept {
    const auto n = static_cast<std::int64_t>(ring_.size());
    std::int64_t r = bucket % n;
    if (r < 0) r += n;
    return static_cast<std::size_t>(r);
}

void NonceTable::advance(std::int64_t now) {
    if (!started_) {
        started_ = true;
        high_water_ = now;
        oldest_ = floor_div(now, width_);
        return;
    }
    if (now <= high_water_) return;
    high_water_ = now;
    // Bucket b holds expiries in [b*w, (b+1)*w - 1]; an entry is dead once now > its expiry, so the whole
    // bucket is dead once b < floor(now / w). A jump of any size costs at most one pass over the ring.
    const std::int64_t first_live = floor_div(now, width_);
    if (first_live <= oldest_) return;
    const auto gap = static_cast<std::uint64_t>(first_live) - static_cast<std::uint64_t>(oldest_);
    const std::uint64_t n = std::min<std::uint64_t>(gap, ring_.size());
    const std::size_t first = ring_slot(oldest_);
    for (std::uint64_t i = 0; i < n; ++i) free_bucket((first + i) % ring_.size());
    oldest_ = first_live;
    if (size_ == 0 && !nodes_.empty()) {
        // Give a burst's memory back instead of holding its peak forever.
        nodes_.clear();
        nodes_.shrink_to_fit();
        free_ = npos;
    }
}

void NonceTable::free_bucket(std::size_t slot) {
    const std::size_t mask = heads_.size() - 1;
    std::uint32_t i = ring_[slot];
    ring_[slot] = npos;
    while (i != npos) {
        Node& node = nodes_[i];
        const std::uint32_t next_in_time = node.time_next;
        std::uint32_t* link = &heads_[node.lo & mask];
        while (*link != i) link = &nodes_[*link].hash_next;  // the chain holds i: it was linked on insert
        *link = node.hash_next;
        node.hash_next = free_;
        free_ = i;
        --size_;
        i = next_in_time;
    }
}

std::int64_t NonceTable::retry_after() const noexcept {
    // The oldest non-empty bucket b frees its entries once now reaches (b + 1) * w.
    const std::size_t first = ring_slot(oldest_);
    for (std::size_t k = 0; k < ring_.size(); ++k) {
        if (ring_[(first + k) % ring_.size()] == npos) continue;
        const std::int64_t b = sat_add(oldest_, static_cast<std::int64_t>(k));
        const std::int64_t end = b >= kMax / width_ ? kMax : (b + 1) * width_;
        return std::max<std::int64_t>(sat_sub(end, high_water_), 1);
    }
    return 0;
}

Verdict NonceTable::check(Digest d, std::int64_t timestamp, std::int64_t now) {
    advance(now);
    const std::int64_t t = high_water_;  // a clock that went backwards is ignored
    if (timestamp < sat_sub(t, skew_)) return {errc::timestamp_too_old, {}};
    if (timestamp > sat_add(t, skew_)) return {errc::timestamp_too_new, {}};

    const std::size_t mask = heads_.size() - 1;
    std::uint32_t* head = &heads_[d.lo & mask];
    for (std::uint32_t i = *head; i != npos; i = nodes_[i].hash_next)
        if (nodes_[i].lo == d.lo && nodes_[i].hi == d.hi) return {errc::duplicate_nonce, {}};

    if (size_ >= capacity_) return {errc::window_full, std::chrono::nanoseconds(retry_after())};

    std::uint32_t idx = free_;
    if (idx != npos) {
        free_ = nodes_[idx].hash_next;
    } else {
        if (nodes_.size() == nodes_.capacity())
            nodes_.reserve(std::min(capacity_, std::max<std::size_t>(64, nodes_.size() * 2)));
        idx = static_cast<std::uint32_t>(nodes_.size());
        nodes_.push_back({});
    }
    // Remember it until the timestamp itself stops passing the check: expiry = timestamp + skew. That is
    // never in an expired bucket (timestamp >= t - skew) and at most 2 x skew ahead (timestamp <= t + skew).
    const std::size_t slot = ring_slot(floor_div(sat_add(timestamp, skew_), width_));
    nodes_[idx] = Node{d.lo, d.hi, *head, ring_[slot]};
    *head = idx;
    ring_[slot] = idx;
    ++size_;
    return {};
}

void NonceTable::expire(std::int64_t now) {
    advance(now);
}

}  // namespace cyxp2p::replay::detail
