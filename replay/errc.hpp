// Error codes of the replay module: why a nonce or a sequence number was refused.
#pragma once

#include <chrono>
#include <string>
#include <system_error>

namespace cyxp2p::replay {

/// Every denial of NonceWindow and SequenceWindow names one of these. The value 0 (errc{}) means
/// "accepted" and is never an error; see Verdict.
enum class errc {
    // NonceWindow
    duplicate_nonce = 1,  // this (key, nonce) was already accepted inside the window
    timestamp_too_old,    // timestamp < now - skew
    timestamp_too_new,    // timestamp > now + skew
    window_full,          // fail closed: the table holds `nonce_capacity` unexpired entries
    // SequenceWindow (RFC 6479)
    duplicate_sequence,  // this number was already accepted
    sequence_too_old,    // the number is below the window: it can no longer be told apart from a replay
};

const std::error_category& category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), category()};
}

/// The enumerator's name ("duplicate_nonce"), "accepted" for errc{}; for logs and the wire's reason text.
const char* to_string(errc e) noexcept;

/// The answer to one check. The transport forwards `reason` and, when non-zero, `retry_after`.
struct Verdict {
    errc reason{};  // errc{} (0): accepted
    /// window_full only: how long until the oldest time bucket expires and frees room. Zero for every
    /// other reason, because waiting does not turn a replay or a bad timestamp into a good one.
    std::chrono::nanoseconds retry_after{0};

    bool accepted() const noexcept { return reason == errc{}; }
    explicit operator bool() const noexcept { return accepted(); }
    std::error_code error() const noexcept {
        return accepted() ? std::error_code{} : make_error_code(reason);
    }
};

}  // namespace cyxp2p::replay

template <>
struct std::is_error_code_enum<cyxp2p::replay::errc> : std::true_type {};
