// p2p-probe fetch CID -o FILE --sources SOURCES.json: one CID from several nodes and gateways at once
// (issue 18 item 1). A thin caller of the engine API, net::async_fetch_from (net/multi_fetch.hpp): this file
// reads the sources list and tokens, checks the flags and prints the result.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>

#include "../common/cli.hpp"

namespace cyxp2p::tools::probe {

// --in-flight, --stall-ms and --hedge-ms default to net::MultiFetchLimits (net/limits.hpp).

/// Runs the fetch; `args` carries --output, --force, --timeout-ms, --gateway-ca, --in-flight, --stall-ms,
/// --hedge-ms and --json. Returns the exit code (docs/tools.md, "fetch --sources").
int fetch_from_sources(const Args& args, const std::string& cid, const std::string& sources_path);

/// The exit code of a link or content error (cmd_link.cpp).
Exit exit_of(std::error_code ec);

}  // namespace cyxp2p::tools::probe
