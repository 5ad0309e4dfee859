// p2p-probe fetch CID -o FILE --sources SOURCES.json: one CID from several nodes and gateways at once
// (issue 18 item 1). content::MultiDownload plans the DAG, shares the units out, verifies every block and
// keeps the one resume state; this file moves blocks: content.fetch streams on node connections and
// /ipfs/CID requests on gateways.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>

#include "../common/cli.hpp"

namespace cyxp2p::tools::probe {

/// --in-flight: units one source fetches at once (8 x a 256 KiB leaf = 2 MiB; a subtree unit is one stream).
inline constexpr std::size_t kSourcesInFlight = 8;
/// --stall-ms: a source with work and no verified byte for this long is dropped (the session's own
/// stall_window, protocol::SessionLimits, is 30 s too).
inline constexpr std::uint64_t kSourcesStallMs = 30'000;
/// --hedge-ms: an idle source fetches a copy of a unit another source has held this long (the first
/// verified copy wins). Long enough that healthy sources keep their own units, short against a stall.
inline constexpr std::uint64_t kSourcesHedgeMs = 2'000;

/// Runs the fetch; `args` carries --output, --force, --timeout-ms, --gateway-ca, --in-flight, --stall-ms,
/// --hedge-ms and --json. Returns the exit code (docs/tools.md, "fetch --sources").
int fetch_from_sources(const Args& args, const std::string& cid, const std::string& sources_path);

/// The exit code of a link or content error (cmd_link.cpp).
Exit exit_of(std::error_code ec);

}  // namespace cyxp2p::tools::probe
