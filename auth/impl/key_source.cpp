// KeySet, FileKeySource: the replaceable key sets behind every verification (auth/key_source.hpp).
#include <stdexcept>
#include <utility>

#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/auth/key_source.hpp>

namespace cyxp2p::auth {

KeySet::KeySet(std::shared_ptr<const Keyring> keys) {
    if (!keys || keys->empty()) throw std::invalid_argument("KeySet needs a non-empty keyring");
    status_.loaded_at_s = status_.last_attempt_at_s = wall_now();
    status_.loads_ok = 1;
    status_.keys = keys->keys().size();
    keys_ = std::move(keys);
}

std::shared_ptr<const Keyring> KeySet::current() const {
    std::lock_guard lock(mutex_);
    return keys_;
}

KeySourceStatus KeySet::status() const {
    std::lock_guard lock(mutex_);
    return status_;
}

void KeySet::set_wall_clock(WallClock clock) {
    std::lock_guard lock(mutex_);
    wall_clock_ = std::move(clock);
}

std::int64_t KeySet::wall_now() const {
    if (wall_clock_) return wall_clock_();
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::error_code KeySet::replace(std::shared_ptr<const Keyring> keys) {
    if (!keys || keys->empty()) {
        record_failure(errc::unsupported_key, "the new set holds no usable key");
        return errc::unsupported_key;
    }
    std::shared_ptr<const Keyring> old;
    std::lock_guard lock(mutex_);
    status_.loaded_at_s = status_.last_attempt_at_s = wall_now();
    status_.last_error.clear();
    status_.last_error_detail.clear();
    status_.loads_ok++;
    status_.keys = keys->keys().size();
    old = std::exchange(keys_, std::move(keys));  // sessions holding `old` finish their verification with it
    return {};
}

void KeySet::record_failure(std::error_code ec, std::string detail) {
    std::lock_guard lock(mutex_);
    status_.last_attempt_at_s = wall_now();
    status_.last_error = ec;
    status_.last_error_detail = std::move(detail);
    status_.loads_failed++;
}

FileKeySource::FileKeySource(std::filesystem::path path, std::shared_ptr<const Keyring> keys,
                             const Limits& limits)
    : KeySet(std::move(keys)), path_(std::move(path)), limits_(limits) {}

std::shared_ptr<FileKeySource> FileKeySource::open(std::filesystem::path path, std::error_code& ec,
                                                   std::string* detail, const Limits& limits) {
    auto ring = Keyring::load(path, ec, detail, limits);
    if (!ring) return nullptr;
    if (ring->empty()) {
        ec = errc::unsupported_key;
        if (detail != nullptr) *detail = "keys";
        return nullptr;
    }
    return std::make_shared<FileKeySource>(std::move(path), std::make_shared<const Keyring>(std::move(*ring)),
                                           limits);
}

std::error_code FileKeySource::reload(std::string* detail) {
    std::error_code ec;
    std::string what;
    auto ring = Keyring::load(path_, ec, &what, limits_);
    if (!ring || ring->empty()) {
        if (!ec) ec = errc::unsupported_key;
        if (detail != nullptr) *detail = what;
        record_failure(ec, what);
        return ec;
    }
    return replace(std::make_shared<const Keyring>(std::move(*ring)));
}

}  // namespace cyxp2p::auth
