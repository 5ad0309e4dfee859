#include <sodium.h>

#include <cstring>
#include <mutex>
#include <stdexcept>

#include <cyxp2p/replay/detail/nonce_table.hpp>
#include <cyxp2p/replay/nonce_window.hpp>

namespace cyxp2p::replay {

// One cache line (or more) per shard, so two threads on different shards never share a line.
struct alignas(64) NonceWindow::Shard {
    Shard(std::size_t capacity, std::int64_t skew, std::int64_t width) : table(capacity, skew, width) {}
    mutable std::mutex mu;
    detail::NonceTable table;
};

NonceWindow::NonceWindow(const Limits& limits) : limits_(limits) {
    const std::size_t shards = limits.shards;
    if (shards == 0 || (shards & (shards - 1)) != 0 || shards > 4096)
        throw std::invalid_argument("replay: shards must be a power of two in [1, 4096]");
    if (limits.nonce_capacity < shards)
        throw std::invalid_argument("replay: nonce_capacity must be >= shards");
    if (sodium_init() < 0) throw std::runtime_error("replay: libsodium failed to initialise");
    // Per-instance secret keys: the table's layout cannot be predicted from outside (hash flooding).
    randombytes_buf(key_seed_.data(), key_seed_.size());
    randombytes_buf(entry_seed_.data(), entry_seed_.size());

    const std::size_t per_shard = (limits.nonce_capacity + shards - 1) / shards;
    capacity_ = per_shard * shards;
    shard_mask_ = shards - 1;
    shards_.reserve(shards);
    for (std::size_t i = 0; i < shards; ++i)
        shards_.push_back(
            std::make_unique<Shard>(per_shard, limits.skew.count(), limits.bucket_width.count()));
}

NonceWindow::~NonceWindow() = default;
Verdict NonceWindow::check(std::string_view key, Nonce nonce, std::chrono::nanoseconds timestamp,
                           std::chrono::nanoseconds now) {
    // Two steps so no buffer of the key's length is needed: k = SipHash-2-4(key), then the entry digest is
    // SipHash-2-4-128(k || nonce). A 64-bit collision of two keys only merges their nonce spaces, and random
    // 16-byte nonces then still differ; a replay always maps to the same digest and is always caught.
    std::uint8_t buf[crypto_shorthash_BYTES + 16];
    crypto_shorthash(buf, reinterpret_cast<const unsigned char*>(key.data()), key.size(), key_seed_.data());
    std::memcpy(buf + crypto_shorthash_BYTES, nonce.data(), nonce.size());
    std::uint8_t out[crypto_shorthash_siphashx24_BYTES];
    crypto_shorthash_siphashx24(out, buf, sizeof buf, entry_seed_.data());
    detail::Digest d;
    std::memcpy(&d.lo, out, 8);
    std::memcpy(&d.hi, out + 8, 8);

    Shard& shard = *shards_[static_cast<std::size_t>(d.hi >> 32) & shard_mask_];
    const std::lock_guard lock(shard.mu);
    return shard.table.check(d, timestamp.count(), now.count());
}

void NonceWindow::expire(std::chrono::nanoseconds now) {
    for (auto& shard : shards_) {
        const std::lock_guard lock(shard->mu);
        shard->table.expire(now.count());
    }
}

std::size_t NonceWindow::size() const {
    std::size_t n = 0;
    for (const auto& shard : shards_) {
        const std::lock_guard lock(shard->mu);
        n += shard->table.size();
    }
    return n;
}

std::size_t NonceWindow::memory_bytes() const {
    std::size_t n = 0;
    for (const auto& shard : shards_) {
        const std::lock_guard lock(shard->mu);
        n += shard->table.memory_bytes();
    }
    return n;
}

std::size_t NonceWindow::bytes_per_entry() noexcept {
    // A node, plus its hash head (the head array is a power of two >= capacity: 4 to 8 bytes per entry).
    return sizeof(detail::NonceTable::Node) + sizeof(std::uint32_t);
}

}  // namespace cyxp2p::replay
