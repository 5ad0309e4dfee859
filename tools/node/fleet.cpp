#include "fleet.hpp"

#include <cyxp2p/net/errc.hpp>

#include "../common/cli.hpp"

namespace cyxp2p::tools::node {

std::optional<int> fleet_options(const RunSettings& rs, std::optional<net::FleetOptions>& out) {
    out.reset();
    if (rs.redis.empty()) {
        if (!rs.redis_password_file.empty() || !rs.redis_prefix.empty() || !rs.redis_ca_file.empty() ||
            !rs.redis_cert.empty() || !rs.redis_key.empty())
            return fail(
                nullptr, Exit::usage, "usage",
                "--redis-password-file, --redis-prefix, --redis-ca-file, --redis-cert and --redis-key "
                "need --redis");
        return std::nullopt;
    }
    std::error_code ec;
    auto endpoint = net::parse_redis_url(rs.redis, ec);
    if (!endpoint)
        return fail(nullptr, Exit::usage, net::error_name(ec, "bad_value"), "--redis: " + ec.message());
    if (!endpoint->tls && (!rs.redis_ca_file.empty() || !rs.redis_cert.empty() || !rs.redis_key.empty()))
        return fail(nullptr, Exit::usage, "usage",
                    "--redis-ca-file, --redis-cert and --redis-key need a rediss:// URL");
    if (rs.redis_cert.empty() != rs.redis_key.empty())
        return fail(nullptr, Exit::usage, "usage", "--redis-cert and --redis-key go together");
    endpoint->ca_file = rs.redis_ca_file;
    endpoint->cert_file = rs.redis_cert;
    endpoint->key_file = rs.redis_key;
    // The files are checked now, so a typo stops the node at start; each reconnect loads them again.
    if (std::string why; !net::check_redis_tls(*endpoint, ec, why))
        return fail(nullptr, Exit::bad_input, net::error_name(ec, "io_error"), why);
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
