// p2p-node run --redis: fleet mode's settings checked and turned into net::FleetOptions (docs/fleet.md).
#pragma once

#include <optional>

#include <cyxp2p/net/admission.hpp>

#include "settings.hpp"

namespace cyxp2p::tools::node {

/// Empty rs.redis: `out` stays empty. Otherwise parses the URL and reads the password file; on an error
/// prints it (fail()) and returns the exit code: usage for a bad URL or a redis-* setting without --redis,
/// bad_input for a password file readable by others or unreadable.
std::optional<int> fleet_options(const RunSettings& rs, std::optional<net::FleetOptions>& out);

}  // namespace cyxp2p::tools::node
