#include <cyxp2p/ratelimit/errc.hpp>

namespace cyxp2p::ratelimit {
namespace {

class Category final : public std::error_category {
  public:
    const char* name() const noexcept override { return "cyxp2p.ratelimit"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::rate_limited:
                return "rate limit exceeded: retry after the advertised delay";
            case errc::exceeds_burst:
                return "request costs more tokens than the burst allows: it can never be admitted";
            case errc::table_full:
                return "rate limiter is tracking its maximum of active keys: new keys are refused until one "
                       "idles";
            case errc::too_many_connections:
                return "node is at its maximum number of connections";
            case errc::too_many_connections_from_address:
                return "too many concurrent connections from this address (IPv4 /32 or IPv6 /64)";
            case errc::too_many_handshakes:
                return "node is at its maximum number of handshakes in progress";
            case errc::too_many_handshakes_from_address:
                return "too many handshakes in progress from this address";
            case errc::connection_rate_limited:
                return "this address opens connections too fast: retry after the advertised delay";
            case errc::address_table_full:
                return "connection limiter is tracking its maximum of active addresses";
            case errc::too_many_connections_from_network:
                return "too many concurrent connections from this network (IPv4 /24 or IPv6 /48)";
            case errc::too_many_handshakes_from_network:
                return "too many handshakes in progress from this network (IPv4 /24 or IPv6 /48)";
            case errc::handshake_evicted:
                return "handshake slot taken by a newer connection: the node is at its maximum of handshakes "
                       "in progress and this one was the oldest";
        }
        if (ev == 0) return "allowed";
        return "unknown ratelimit error";
    }
};

}  // namespace

const std::error_category& category() noexcept {
    static const Category instance;
    return instance;
}

const char* to_string(errc e) noexcept {
    switch (e) {
        case errc::rate_limited:
            return "rate_limited";
        case errc::exceeds_burst:
            return "exceeds_burst";
        case errc::table_full:
            return "table_full";
        case errc::too_many_connections:
            return "too_many_connections";
        case errc::too_many_connections_from_address:
            return "too_many_connections_from_address";
        case errc::too_many_handshakes:
            return "too_many_handshakes";
        case errc::too_many_handshakes_from_address:
            return "too_many_handshakes_from_address";
        case errc::connection_rate_limited:
            return "connection_rate_limited";
        case errc::address_table_full:
            return "address_table_full";
        case errc::too_many_connections_from_network:
            return "too_many_connections_from_network";
        case errc::too_many_handshakes_from_network:
            return "too_many_handshakes_from_network";
        case errc::handshake_evicted:
            return "handshake_evicted";
    }
    if (e == errc{}) return "allowed";
    return "unknown";
}

}  // namespace cyxp2p::ratelimit
