// SipHash-2-4 under a random per-instance key (libsodium crypto_shorthash): attacker-chosen keys cannot be
// aimed at one hash chain or one shard (hash flooding). Not part of the public API.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace cyxp2p::ratelimit::detail {

class KeyedHash {
  public:
    KeyedHash();  // draws the key from the OS CSPRNG; throws std::runtime_error if libsodium cannot start
    std::uint64_t operator()(std::span<const std::uint8_t> bytes) const noexcept;

  private:
    std::array<std::uint8_t, 16> key_{};
};

}  // namespace cyxp2p::ratelimit::detail
