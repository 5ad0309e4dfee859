// SequenceWindow: RFC 6479 anti-replay bitmap for numbered messages (the IPsec / WireGuard design).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <cyxp2p/replay/errc.hpp>
#include <cyxp2p/replay/limits.hpp>

namespace cyxp2p::replay {

/// Accepts each 64-bit sequence number at most once, and numbers up to window() below the highest accepted
/// one in any order. O(1) per message: the bitmap is a ring of 64-bit words (RFC 6479 section 2); moving
/// the window forward zeroes only the words it enters, at most all of them on a far jump, and never shifts
/// the map. One per session and direction; not thread-safe (a session is driven by one strand).
///
/// RFC 6479 / RFC 4303 3.4.3: check() before authenticating a message, accept() only after it authenticated,
/// so forged numbers cannot move the window.
class SequenceWindow {
  public:
    /// bits: a power of two >= 128 (Limits::sequence_bits). Throws std::invalid_argument otherwise.
    explicit SequenceWindow(std::size_t bits = Limits{}.sequence_bits);

    /// Would `seq` be accepted now? Changes nothing.
    Verdict check(std::uint64_t seq) const noexcept;
    /// check(), and when accepted records `seq` (advancing the window if it is the new highest).
    Verdict accept(std::uint64_t seq) noexcept;

    /// How far below the highest accepted number a number may be and still be accepted: bits - 64.
    std::uint64_t window() const noexcept { return window_; }
    /// The highest accepted number; meaningless while empty().
    std::uint64_t highest() const noexcept { return top_; }
    bool empty() const noexcept { return !any_; }

  private:
    std::vector<std::uint64_t> words_;
    std::size_t mask_;  // words_.size() - 1
    std::uint64_t window_;
    std::uint64_t top_ = 0;
    bool any_ = false;
};

}  // namespace cyxp2p::replay
