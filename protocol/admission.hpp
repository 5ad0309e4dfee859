// Admission: the replay and rate-limit checks of a HELLO, REAUTH or OPEN, decided outside the session when
// they are shared by a fleet of nodes (docs/fleet.md). Sans-IO: the session parks the frame and emits an
// Event::Kind::admission carrying an AdmissionRequest; its owner gets the verdict wherever it likes (Redis,
// a local window) and hands it back with NodeSession::admit(). Nothing here does I/O.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>

#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/protocol/limits.hpp>

namespace cyxp2p::protocol {

/// What the session asks. Every field is already validated: the token verified, the scope held, the
/// nonce 16 bytes, the stream id fresh.
struct AdmissionRequest {
    enum class Step { hello, reauth, open };
    Step step = Step::hello;
    std::string subject;  // the verified token's `sub`: nonces and the per-peer limit are per subject
    std::string method;   // open only: the per-method limit
    std::array<std::uint8_t, 16> nonce{};
    Time timestamp{};  // the peer's request time (wall clock, clamped to a day around `now`)
    Now now{};         // the session's clocks when the frame arrived
    /// The replay scope of the nonce, as the in-process window keys it: "hello:", "reauth:" or "open:".
    const char* nonce_scope() const noexcept;
};

/// The answer. `code` empty: admitted. Otherwise replayed, rate_limited or unavailable (the shared store
/// could not answer in time), with a message for a person, the machine-readable detail (a replay or
/// ratelimit reason name) and, when waiting helps, a retry delay.
struct AdmissionVerdict {
    std::error_code code{};
    std::string message{};
    std::string detail{};
    std::chrono::milliseconds retry_after{0};
    explicit operator bool() const noexcept { return !code; }
};

}  // namespace cyxp2p::protocol
