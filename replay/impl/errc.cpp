#include <cyxp2p/replay/errc.hpp>

namespace cyxp2p::replay {
namespace {

class Category final : public std::error_category {
  public:
    const char* name() const noexcept override { return "cyxp2p.replay"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::duplicate_nonce:
                return "nonce already used by this peer inside the replay window: send a fresh random nonce";
            case errc::timestamp_too_old:
                return "timestamp is older than the allowed clock skew: check the sender's clock (NTP)";
            case errc::timestamp_too_new:
                return "timestamp is further in the future than the allowed clock skew: check the sender's "
                       "clock";
            case errc::window_full:
                return "replay window is full of unexpired nonces: retry later or raise nonce_capacity";
            case errc::duplicate_sequence:
                return "sequence number already received (replayed or duplicated message)";
            case errc::sequence_too_old:
                return "sequence number is older than the anti-replay window";
        }
        if (ev == 0) return "accepted";
        return "unknown replay error";
    }
};

}  // namespace

const std::error_category& category() noexcept {
    static const Category instance;
    return instance;
}

const char* to_string(errc e) noexcept {
    switch (e) {
        case errc::duplicate_nonce:
            return "duplicate_nonce";
        case errc::timestamp_too_old:
            return "timestamp_too_old";
        case errc::timestamp_too_new:
            return "timestamp_too_new";
        case errc::window_full:
            return "window_full";
        case errc::duplicate_sequence:
            return "duplicate_sequence";
        case errc::sequence_too_old:
            return "sequence_too_old";
    }
    if (e == errc{}) return "accepted";
    return "unknown";
}

}  // namespace cyxp2p::replay
