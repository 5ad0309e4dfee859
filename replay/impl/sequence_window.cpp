#include <algorithm>
#include <stdexcept>

#include <cyxp2p/replay/sequence_window.hpp>

namespace cyxp2p::replay {

SequenceWindow::SequenceWindow(std::size_t bits) {
    if (bits < 128 || (bits & (bits - 1)) != 0 || bits > (std::size_t{1} << 24))
        throw std::invalid_argument("replay: sequence_bits must be a power of two in [128, 2^24]");
    words_.assign(bits / 64, 0);
    mask_ = words_.size() - 1;
    // RFC 6479 section 2: one word is the block being refilled as the window slides, so it cannot count
    // towards the window; a number exactly window() below the top still has a word of its own.
    window_ = bits - 64;
}

Verdict SequenceWindow::check(std::uint64_t seq) const noexcept {
    if (!any_ || seq > top_) return {};
    if (top_ - seq > window_) return {errc::sequence_too_old, {}};
    const std::uint64_t bit = std::uint64_t{1} << (seq & 63);
    if ((words_[static_cast<std::size_t>(seq >> 6) & mask_] & bit) != 0)
        return {errc::duplicate_sequence, {}};
    return {};
}

Verdict SequenceWindow::accept(std::uint64_t seq) noexcept {
    const Verdict v = check(seq);
    if (!v) return v;
    if (!any_) {
        any_ = true;
        top_ = seq;
    } else if (seq > top_) {
        // RFC 6479 section 2 (WireGuard counter_validate): zero the words between the old top's word and the
        // new one's; a jump of a whole ring or more zeroes each word once.
        const std::uint64_t cur = top_ >> 6;
        const std::uint64_t steps = std::min<std::uint64_t>((seq >> 6) - cur, words_.size());
        for (std::uint64_t i = 1; i <= steps; ++i) words_[static_cast<std::size_t>(cur + i) & mask_] = 0;
        top_ = seq;
    }
    words_[static_cast<std::size_t>(seq >> 6) & mask_] |= std::uint64_t{1} << (seq & 63);
    return {};
}

}  // namespace cyxp2p::replay
