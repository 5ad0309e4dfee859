#include "fleet.hpp"

#include <cyxp2p/net/errc.hpp>

#include "../common/cli.hpp"

namespace cyxp2p::tools::node {

std::optional<int> fleet_options(const RunSettings& rs, std::optional<net::FleetOptions>& out) {
    out.reset();
    if (rs.redis.empty()) {
        if (!rs.redis_password_file.empty() || !rs.redis_prefix.empty())
            return fail(nullptr, Exit::usage, "usage",
                        "--redis-password-file and --redis-prefix need --redis");
        return std::nullopt;
    }
    std::error_code ec;
    auto endpoint = net::parse_redis_url(rs.redis, ec);
    if (!endpoint)
        return fail(nullptr, Exit::usage, net::error_name(ec, "bad_value"), "--redis: " + ec.message());
    net::FleetOptions f{.redis = *endpoint,
                        .prefix = rs.redis_prefix,
                        .when_unavailable = rs.redis_unavailable,
                        .limits = rs.redis_limits};
    if (!rs.redis_password_file.empty()) {
        f.password = net::read_redis_password(rs.redis_password_file, ec);
        if (!f.password)
            return fail(nullptr, Exit::bad_input, net::error_name(ec, "io_error"),
                        "--redis-password-file " + rs.redis_password_file + ": " + ec.message());
    }
    out = std::move(f);
    return std::nullopt;
}

}  // namespace cyxp2p::tools::node
