// Small helpers shared by the replay tests.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace cyxp2p::replay::test {

using namespace std::chrono_literals;
using ns = std::chrono::nanoseconds;

/// A distinct nonce for every (i, salt): the bytes of both, so tests can name nonces by number.
inline std::array<std::uint8_t, 16> nonce(std::uint64_t i, std::uint64_t salt = 0) {
    std::array<std::uint8_t, 16> n{};
    for (int b = 0; b < 8; ++b) {
        n[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(i >> (8 * b));
        n[static_cast<std::size_t>(8 + b)] = static_cast<std::uint8_t>(salt >> (8 * b));
    }
    return n;
}

}  // namespace cyxp2p::replay::test
