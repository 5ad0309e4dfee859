// Status: an error with its details, as it travels in an ERROR frame on a stream (wire.Error): the code, a
// message for a person, a retry delay and a short machine-readable detail. What a handler fails a stream
// with on the node, and what the engine learns when a stream or call ends in error (issue 16).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>

#include <cyxp2p/protocol/errc.hpp>

namespace cyxp2p::protocol {

struct Status {
    /// The protocol error code; a value-initialised Status (code 0) is success.
    errc code{};
    /// For a person: what went wrong and what to do about it (at most TextLimits::error_message bytes on
    /// the wire; longer text is cut by the sender).
    std::string message{};
    /// When to try again (rate_limited, unavailable); zero: no advice.
    std::chrono::milliseconds retry_after{0};
    /// For a program: the auth error name, the replay reason, the missing scope (TextLimits::error_detail).
    std::string detail{};

    bool ok() const noexcept { return static_cast<std::uint32_t>(code) == 0; }
    std::error_code error() const noexcept { return ok() ? std::error_code{} : make_error_code(code); }
};

}  // namespace cyxp2p::protocol
