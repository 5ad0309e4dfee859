// PinSet: the keys an Engine accepts for one Node, parsed from curl's --pinnedpubkey list form.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <cyxp2p/pinning/pin.hpp>

namespace cyxp2p::pinning {

/// Where and why a pin list failed to parse.
struct PinListError {
    std::error_code code;
    std::size_t entry = 0;         // 1-based index of the offending entry
    std::size_t offset = 0;        // byte offset of that entry in the input
    std::string describe() const;  // "entry 2 (offset 53): pin must start with 'sha256//' ..."
};

/// A current pin plus any number of backup pins (RFC 7469 section 4.3 asks for at least one backup so a
/// key rotation does not lock clients out). Optionally expires: past `expires_at` it matches nothing, so a
/// stale pin list fails closed instead of being trusted forever.
class PinSet {
  public:
    using Clock = std::chrono::system_clock;

    /// Parses `sha256//A;sha256//B;...` (the first is the current pin, the rest backups). Whitespace around
    /// entries is not allowed: an entry is exactly one pin. Returns nullopt and fills `error` on the first
    /// bad entry (empty_entry, wrong_prefix, bad_base64, wrong_digest_length) or an empty list.
    static std::optional<PinSet> parse(std::string_view list, PinListError* error = nullptr);

    explicit PinSet(Pin current, std::vector<Pin> backups = {},
                    std::optional<Clock::time_point> expires_at = std::nullopt);

    const Pin& current() const { return pins_.front(); }
    const std::vector<Pin>& pins() const { return pins_; }  // current first
    std::optional<Clock::time_point> expires_at() const { return expires_at_; }
    void set_expiry(std::optional<Clock::time_point> t) { expires_at_ = t; }

    /// True when `pin` is one of the set and the set has not expired at `now`.
    bool matches(const Pin& pin, Clock::time_point now) const;
    /// As above for a certificate's public key; false for a certificate whose key cannot be read.
    bool matches(const X509* cert, Clock::time_point now) const;
    bool expired(Clock::time_point now) const { return expires_at_ && now >= *expires_at_; }

    /// Back to the list form; parse(to_string()) == *this.
    std::string to_string() const;

    friend bool operator==(const PinSet& a, const PinSet& b) { return a.pins_ == b.pins_; }

  private:
    std::vector<Pin> pins_;
    std::optional<Clock::time_point> expires_at_;
};

}  // namespace cyxp2p::pinning
