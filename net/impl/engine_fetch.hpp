// The engine's content.fetch: one content::Download fed from one stream (docs/net.md, "Receive path").
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include <cyxp2p/net/engine.hpp>

namespace cyxp2p::net::detail {

class EngineLink;

/// Fetches `cid` to `destination` on `link` (call on the link's strand). `done` runs once, on the strand.
void start_engine_fetch(std::shared_ptr<EngineLink> link, std::string cid, std::filesystem::path destination,
                        FetchProgress progress, std::function<void(std::error_code, FetchResult)> done);

}  // namespace cyxp2p::net::detail
