// Every limit of the replay module and its default, in one place (ARCHITECTURE 6: defaults are the secure
// choice). docs/replay.md explains how to size them.
#pragma once

#include <chrono>
#include <cstddef>

namespace cyxp2p::replay {

struct Limits {
    /// NonceWindow: a timestamp is accepted iff |now - timestamp| <= skew (both edges inclusive). 30 s
    /// matches the token leeway of ARCHITECTURE 4. A nonce is remembered until now > timestamp + skew, i.e.
    /// for up to 2 x skew after it was accepted (a timestamp may lie `skew` in the future).
    std::chrono::nanoseconds skew = std::chrono::seconds(30);

    /// NonceWindow: most unexpired nonces held at once, over all keys. Sizing rule:
    ///     nonce_capacity >= peak accepted nonces per second x (2 x skew + bucket_width)
    /// The default (2^20) covers ~17,000 nonces/s sustained with the default skew, at most ~26 MiB of entries
    /// plus 4 MiB of hash heads. When it is reached new nonces are refused (errc::window_full): the window
    /// fails closed instead of forgetting an unexpired nonce, which would let its replay through.
    std::size_t nonce_capacity = std::size_t{1} << 20;

    /// NonceWindow: independently locked shards (a power of two). Each holds nonce_capacity / shards entries;
    /// a secret per-instance hash spreads keys evenly, so an attacker cannot aim at one shard.
    std::size_t shards = 16;

    /// NonceWindow: expiry granularity. Entries are freed a whole bucket at a time, at most this long after
    /// they expired (never before), so a nonce is refused for at least timestamp + skew and at most one
    /// bucket longer.
    std::chrono::nanoseconds bucket_width = std::chrono::seconds(1);

    /// SequenceWindow: bitmap size in bits, a power of two >= 128. RFC 6479 keeps one word of the map as the
    /// "redundant" block being refilled, so the usable window is sequence_bits - 64 numbers (default 1984, as
    /// in WireGuard's first COUNTER_BITS_TOTAL of 2048). Cost: sequence_bits / 8 bytes per session.
    std::size_t sequence_bits = 2048;
};

}  // namespace cyxp2p::replay
