// LocalAdmission: the in-process windows behind the Admission interface, and the failure-policy names.
#include <cyxp2p/net/admission.hpp>

namespace cyxp2p::net {
namespace {

std::chrono::milliseconds ceil_ms(std::chrono::nanoseconds d) {
    if (d >= ratelimit::Decision::never()) return std::chrono::milliseconds::max();
    return std::chrono::ceil<std::chrono::milliseconds>(d);
}

}  // namespace

const char* to_string(RedisUnavailable p) noexcept {
    return p == RedisUnavailable::local ? "local" : "refuse";
}

std::optional<RedisUnavailable> parse_redis_unavailable(std::string_view s) noexcept {
    if (s == "refuse") return RedisUnavailable::refuse;
    if (s == "local") return RedisUnavailable::local;
    return std::nullopt;
}

LocalAdmission::LocalAdmission(const replay::Limits& replay, const ratelimit::Limits& rate)
    : nonces_(replay), per_peer_(rate.requests_per_peer), per_method_(rate.requests_per_method) {}

void LocalAdmission::check(const protocol::AdmissionRequest& request, Done done) {
    done(decide(request));
}

protocol::AdmissionVerdict LocalAdmission::decide(const protocol::AdmissionRequest& r) {
    using protocol::errc;
    if (r.step == protocol::AdmissionRequest::Step::open) {
        // Rate limits before the replay check, so a flood cannot fill the nonce window (as NodeSession).
        for (auto [limiter, key] : {std::pair{&per_peer_, &r.subject}, std::pair{&per_method_, &r.method}}) {
            const auto d = limiter->try_acquire(*key, r.now.mono);
            if (!d)
                return {make_error_code(errc::rate_limited), d.error().message(),
                        ratelimit::to_string(d.reason), ceil_ms(d.retry_after)};
        }
    }
    const std::string key = std::string(r.nonce_scope()) + r.subject;
    const auto v = nonces_.check(key, replay::NonceWindow::Nonce(r.nonce), r.timestamp, r.now.wall);
    if (!v) {
        return {make_error_code(errc::replayed),
                std::string("request refused: ") + replay::to_string(v.reason), replay::to_string(v.reason),
                ceil_ms(v.retry_after)};
    }
    return {};
}

}  // namespace cyxp2p::net
