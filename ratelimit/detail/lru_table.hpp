// A bounded hash table of 64-bit keys with a least-recently-used list, in an index-linked arena.
// Shared by KeyedLimiter and ConnectionLimiter shards; single-threaded. Not part of the public API.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace cyxp2p::ratelimit::detail {

/// Keys are keyed 64-bit hashes (detail::KeyedHash), so two real keys share an entry only with probability
/// ~2^-64 per pair, which an attacker cannot steer. Indices are 32-bit to keep entries small, and stay
/// valid until erase(): ConnectionPermit holds one. Entries can be detached from the LRU list
/// (ConnectionLimiter detaches addresses with live connections, which must never be evicted).
template <typename V>
class LruTable {
  public:
    static constexpr std::uint32_t npos = 0xFFFFFFFFu;

    struct Entry {
        std::uint64_t key;
        V value;
        std::uint32_t hash_next;  // next in the hash chain, or next free entry
        std::uint32_t prev;       // LRU neighbours; prev == kDetached when not in the list
        std::uint32_t next;
    };

    explicit LruTable(std::size_t capacity) : capacity_(capacity) {
        if (capacity == 0 || capacity >= kDetached)
            throw std::invalid_argument("ratelimit: table capacity out of range");
        std::size_t n = 1;
        while (n < capacity) n <<= 1;
        heads_.assign(n, npos);
    }

    std::uint32_t find(std::uint64_t key) const noexcept {
        for (std::uint32_t i = heads_[key & (heads_.size() - 1)]; i != npos; i = entries_[i].hash_next)
            if (entries_[i].key == key) return i;
        return npos;
    }

    /// Precondition: size() < capacity() and the key is absent. Links the entry as most recently used.
    std::uint32_t insert(std::uint64_t key, const V& value) {
        std::uint32_t i = free_;
        if (i != npos) {
            free_ = entries_[i].hash_next;
        } else {
            if (entries_.size() == entries_.capacity())
                entries_.reserve(std::min(capacity_, std::max<std::size_t>(64, entries_.size() * 2)));
            i = static_cast<std::uint32_t>(entries_.size());
            entries_.push_back({});
        }
        std::uint32_t& head = heads_[key & (heads_.size() - 1)];
        entries_[i] = Entry{key, value, head, kDetached, npos};
        head = i;
        attach(i);
        ++size_;
        return i;
    }

    void erase(std::uint32_t i) noexcept {
        detach(i);
        std::uint32_t* link = &heads_[entries_[i].key & (heads_.size() - 1)];
        while (*link != i) link = &entries_[*link].hash_next;
        *link = entries_[i].hash_next;
        entries_[i].hash_next = free_;
        free_ = i;
        if (--size_ == 0) {
            // Give a burst's memory back instead of holding its peak forever.
            entries_.clear();
            entries_.shrink_to_fit();
            free_ = npos;
        }
    }

    /// Moves a listed entry to the most recently used end.
    void touch(std::uint32_t i) noexcept {
        if (entries_[i].prev == kDetached || i == newest_) return;
        detach(i);
        attach(i);
    }
    void detach(std::uint32_t i) noexcept {
        Entry& e = entries_[i];
        if (e.prev == kDetached) return;
        (e.prev == npos ? oldest_ : entries_[e.prev].next) = e.next;
        (e.next == npos ? newest_ : entries_[e.next].prev) = e.prev;
        e.prev = kDetached;
        e.next = npos;
    }
    void attach(std::uint32_t i) noexcept {
        Entry& e = entries_[i];
        if (e.prev != kDetached) return;
        e.prev = newest_;
        e.next = npos;
        (newest_ == npos ? oldest_ : entries_[newest_].next) = i;
        newest_ = i;
    }

    /// The least recently used listed entry, or npos.
    std::uint32_t oldest() const noexcept { return oldest_; }
    Entry& operator[](std::uint32_t i) noexcept { return entries_[i]; }
    const Entry& operator[](std::uint32_t i) const noexcept { return entries_[i]; }

    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return capacity_; }
    bool full() const noexcept { return size_ >= capacity_; }
    std::size_t memory_bytes() const noexcept {
        return entries_.capacity() * sizeof(Entry) + heads_.capacity() * sizeof(std::uint32_t);
    }
    /// One entry plus its share of the hash heads at full load (4 to 8 bytes: a power of two >= capacity).
    static constexpr std::size_t bytes_per_entry() noexcept { return sizeof(Entry) + sizeof(std::uint32_t); }

  private:
    static constexpr std::uint32_t kDetached = 0xFFFFFFFEu;

    std::size_t capacity_;
    std::vector<Entry> entries_;
    std::vector<std::uint32_t> heads_;
    std::uint32_t free_ = npos;
    std::uint32_t oldest_ = npos;
    std::uint32_t newest_ = npos;
    std::size_t size_ = 0;
};

}  // namespace cyxp2p::ratelimit::detail
