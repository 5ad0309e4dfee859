// p2p-probe fetch http(s)://HOST[:PORT]/ipfs/CID -o FILE: a verified download from an IPFS trustless gateway
// (issue 18 item 3). The gateway is as untrusted as any node: every block is checked against the CID its
// verified parent names, starting from the CID in the URL, before its bytes are written.
#pragma once

#include <string>
#include <string_view>

#include "../common/cli.hpp"

namespace cyxp2p::tools::probe {

/// True for an http:// or https:// argument (a gateway URL rather than HOST:PORT).
bool is_gateway_url(std::string_view s);

/// Runs the fetch; `args` carries --output, --force, --timeout-ms, --gateway-ca and --json. Returns the
/// exit code (fetch's: 3 local files, 4 bad URL or CID, 10 connect, 11 TLS, 15 a block that does not hash,
/// 16 the gateway answered something other than the content).
int fetch_from_gateway(const Args& args, const std::string& url);

}  // namespace cyxp2p::tools::probe
