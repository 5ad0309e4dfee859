#include <sodium.h>

#include <cstring>
#include <stdexcept>

#include <cyxp2p/ratelimit/detail/keyed_hash.hpp>

namespace cyxp2p::ratelimit::detail {

static_assert(crypto_shorthash_KEYBYTES == 16 && crypto_shorthash_BYTES == 8);

KeyedHash::KeyedHash() {
    if (sodium_init() < 0) throw std::runtime_error("ratelimit: libsodium failed to initialise");
    randombytes_buf(key_.data(), key_.size());
}

std::uint64_t KeyedHash::operator()(std::span<const std::uint8_t> bytes) const noexcept {
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, bytes.data(), bytes.size(), key_.data());
    std::uint64_t h = 0;
    std::memcpy(&h, out, sizeof h);
    return h;
}

}  // namespace cyxp2p::ratelimit::detail
