#include <stdexcept>

#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/pin_set.hpp>

namespace cyxp2p::pinning {

std::string PinListError::describe() const {
    return "entry " + std::to_string(entry) + " (offset " + std::to_string(offset) + "): " + code.message();
}

std::optional<PinSet> PinSet::parse(std::string_view list, PinListError* error) {
    auto fail = [&](errc e, std::size_t entry, std::size_t offset) -> std::optional<PinSet> {
        if (error != nullptr) *error = PinListError{make_error_code(e), entry, offset};
        return std::nullopt;
    };
    if (list.empty()) return fail(errc::empty_pin_list, 0, 0);
    std::vector<Pin> pins;
    std::size_t offset = 0;
    for (std::size_t entry = 1;; ++entry) {
        const std::size_t end = list.find(';', offset);
        const std::string_view item = list.substr(offset, end == std::string_view::npos ? end : end - offset);
        if (item.empty()) return fail(errc::empty_entry, entry, offset);
        std::error_code ec;
        auto pin = Pin::parse(item, ec);
        if (!pin) return fail(static_cast<errc>(ec.value()), entry, offset);
        pins.push_back(*pin);
        if (end == std::string_view::npos) break;
        offset = end + 1;
    }
    Pin current = pins.front();
    pins.erase(pins.begin());
    return PinSet(current, std::move(pins));
}

PinSet::PinSet(Pin current, std::vector<Pin> backups, std::optional<Clock::time_point> expires_at)
    : expires_at_(expires_at) {
    pins_.reserve(backups.size() + 1);
    pins_.push_back(current);
    pins_.insert(pins_.end(), backups.begin(), backups.end());
}

bool PinSet::matches(const Pin& pin, Clock::time_point now) const {
    if (expired(now)) return false;
    bool found = false;
    for (const auto& p : pins_) found |= (p == pin);  // no early exit: time does not depend on position
    return found;
}

bool PinSet::matches(const X509* cert, Clock::time_point now) const {
    std::error_code ec;
    auto pin = Pin::of_certificate(cert, ec);
    return pin && matches(*pin, now);
}

std::string PinSet::to_string() const {
    std::string out;
    for (const auto& p : pins_) {
        if (!out.empty()) out += ';';
        out += p.to_string();
    }
    return out;
}

}  // namespace cyxp2p::pinning
