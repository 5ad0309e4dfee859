// JwksUrlSource: fetch, keep the last good set, refresh per max-age, refetch on unknown kid
// (net/jwks_url_source.hpp).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/net/detail/https_get.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/jwks_url_source.hpp>

namespace cyxp2p::net {

namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::chrono::seconds clamp_interval(std::chrono::seconds s, const JwksUrlOptions& o) {
    return std::clamp(s, o.min_refresh, std::max(o.min_refresh, o.max_refresh));
}

struct Fetched {
    std::shared_ptr<const auth::Keyring> keys;
    std::chrono::seconds interval{};
};

// One fetch, all checks. Never touches the set in force.
std::optional<Fetched> fetch(const JwksUrlOptions& o, std::error_code& ec, std::string& detail) {
    const auto url = detail::parse_https_url(o.url);
    if (!url) {
        ec = errc::keys_bad_url;
        detail = o.url;
        return std::nullopt;
    }
    auto res = detail::https_get(
        *url, {.ca_file = o.ca_file, .timeout = o.timeout, .max_body_bytes = o.max_body_bytes}, ec, detail);
    if (!res) return std::nullopt;
    if (res->status != 200) {
        ec = errc::keys_http_status;
        detail = "HTTP " + std::to_string(res->status);
        return std::nullopt;
    }
    std::string what;
    auto ring = auth::Keyring::from_jwks(res->body, ec, &what, o.auth_limits);
    if (!ring) {
        detail = std::string("not a usable JWKS (") + auth::to_string(static_cast<auth::errc>(ec.value())) +
                 (what.empty() ? "" : ": " + what) + ")";
        return std::nullopt;
    }
    if (!o.allow_secret) {
        for (const auto& k : ring->keys()) {
            if (!k.is_secret()) continue;
            ec = errc::keys_secret_refused;
            detail = "kid " + k.kid();  // the kid, never the key
            return std::nullopt;
        }
    }
    const auto max_age = parse_max_age(res->cache_control);
    const auto asked = o.refresh ? *o.refresh : max_age ? *max_age : o.default_refresh;
    return Fetched{std::make_shared<const auth::Keyring>(std::move(*ring)), clamp_interval(asked, o)};
}

}  // namespace

std::optional<std::chrono::seconds> parse_max_age(std::string_view cache_control) {
    std::optional<std::chrono::seconds> out;
    while (!cache_control.empty()) {
        const auto comma = cache_control.find(',');
        const std::string d = lower(trim(cache_control.substr(0, comma)));
        cache_control =
            comma == std::string_view::npos ? std::string_view{} : cache_control.substr(comma + 1);
        // RFC 9111 5.2.2.5/5.2.2.4: no-store and no-cache mean "do not reuse without asking": refetch as
        // often as the lower bound allows.
        if (d == "no-store" || d == "no-cache") {
            out = std::chrono::seconds(0);
            continue;
        }
        constexpr std::string_view key = "max-age=";
        if (d.rfind(key, 0) != 0) continue;
        std::string_view v = trim(std::string_view(d).substr(key.size()));
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        std::uint64_t n = 0;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        // RFC 9111 1.2.2: a delta-seconds too large to represent is taken as 2^31.
        if (ec == std::errc::result_out_of_range)
            n = 2147483648ULL;
        else if (ec != std::errc{} || end != v.data() + v.size() || v.empty())
            continue;
        n = std::min<std::uint64_t>(n, 2147483648ULL);
        const std::chrono::seconds s(static_cast<std::int64_t>(n));
        if (!out || s < *out) out = s;  // several directives: trust the most cautious
    }
    return out;
}

JwksUrlSource::JwksUrlSource(JwksUrlOptions options, std::shared_ptr<const auth::Keyring> first,
                             std::chrono::seconds interval)
    : KeySet(std::move(first)), options_(std::move(options)), interval_(interval) {
    next_refresh_ = now() + interval_;
    if (options_.background) worker_ = std::thread([this] { run(); });
}

std::shared_ptr<JwksUrlSource> JwksUrlSource::open(JwksUrlOptions options, std::error_code& ec,
                                                   std::string* detail) {
    std::string what;
    auto first = fetch(options, ec, what);
    if (detail != nullptr) *detail = what;
    if (!first) return nullptr;
    auto source = std::make_shared<JwksUrlSource>(std::move(options), first->keys, first->interval);
    if (source->options_.audit) {
        source->options_.audit->record({.kind = AuditEvent::Kind::keys_loaded,
                                        .result = "ok",
                                        .detail = source->options_.url,
                                        .value = static_cast<std::int64_t>(first->keys->keys().size())});
    }
    return source;
}

JwksUrlSource::~JwksUrlSource() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (worker_.joinable()) worker_.join();
}

Clock::time_point JwksUrlSource::now() const {
    return options_.clock ? options_.clock() : Clock::now();
}

void JwksUrlSource::unknown_kid(std::string_view) const {
    {
        std::lock_guard lock(mutex_);
        const auto t = now();
        if (last_refetch_ && t - *last_refetch_ < options_.min_refetch) return;
        last_refetch_ = t;
        refetch_wanted_ = true;
    }
    wake_.notify_all();
}

bool JwksUrlSource::tick() {
    {
        std::lock_guard lock(mutex_);
        if (!refetch_wanted_ && now() < next_refresh_) return false;
    }
    refresh();
    return true;
}

std::error_code JwksUrlSource::refresh(std::string* detail) {
    std::lock_guard fetching(fetch_mutex_);
    {
        std::lock_guard lock(mutex_);
        refetch_wanted_ = false;
    }
    std::error_code ec;
    std::string what;
    auto got = fetch(options_, ec, what);
    const auto t = now();
    if (got) {
        replace(std::move(got->keys));
        std::lock_guard lock(mutex_);
        interval_ = got->interval;
        next_refresh_ = t + interval_;
    } else {
        record_failure(ec, what);
        // Retry at the lower bound, not after a whole max-age: the last good set is aging meanwhile.
        std::lock_guard lock(mutex_);
        next_refresh_ = t + options_.min_refresh;
    }
    if (detail != nullptr) *detail = what;
    const auto st = status();
    if (options_.audit) {
        options_.audit->record(
            {.kind = AuditEvent::Kind::keys_loaded,
             .result = ec ? error_name(ec, "keys_fetch_failed") : "ok",
             .detail = options_.url + (ec ? ": " + what + "; the previous key set stays" : ""),
             .value = static_cast<std::int64_t>(st.keys)});
    }
    if (ec && options_.log) {
        options_.log("keys: fetching " + options_.url + " failed: " + ec.message() +
                     (what.empty() ? "" : " (" + what + ")") + "; the previous " + std::to_string(st.keys) +
                     " key(s) stay in force, next try in " + std::to_string(options_.min_refresh.count()) +
                     " s");
    }
    return ec;
}

Clock::time_point JwksUrlSource::next_refresh() const {
    std::lock_guard lock(mutex_);
    return next_refresh_;
}

std::chrono::seconds JwksUrlSource::refresh_interval() const {
    std::lock_guard lock(mutex_);
    return interval_;
}

void JwksUrlSource::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (refetch_wanted_ || now() >= next_refresh_) {
            lock.unlock();
            tick();
            lock.lock();
            continue;
        }
        // Woken early by unknown_kid() or the destructor; otherwise at the refresh (re-checked: the clock
        // may be injected, so at most a second of real time passes between checks).
        const auto wait = std::min<Clock::duration>(next_refresh_ - now(), std::chrono::seconds(1));
        wake_.wait_for(lock, wait, [this] { return stopping_ || refetch_wanted_; });
    }
}

}  // namespace cyxp2p::net
