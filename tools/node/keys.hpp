// p2p-node's token keys: a JWKS file (reloaded on SIGHUP) or the Central Server's JWKS URL (refreshed and
// refetched by net::JwksUrlSource, refetched at once on SIGHUP). docs/operations.md "Key rotation".
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <cyxp2p/auth/key_source.hpp>
#include <cyxp2p/net/audit.hpp>
#include <cyxp2p/net/jwks_url_source.hpp>

#include "settings.hpp"

namespace cyxp2p::tools::node {

struct NodeKeys {
    std::shared_ptr<auth::FileKeySource> file;  // one of these two
    std::shared_ptr<net::JwksUrlSource> url;
    std::shared_ptr<const auth::KeySource> source() const;
};

bool is_keys_url(const std::string& keys);

/// Opens --keys. On failure returns the exit code after printing the error (fail()). `background`: start the
/// URL source's refresh thread (off for --print-config, which only checks).
std::optional<int> open_keys(const RunSettings& rs, std::shared_ptr<net::AuditSink> audit, bool background,
                             NodeKeys& out);

/// SIGHUP: reads the file again (or refetches the URL). Says on stdout what is in force, or on stderr why
/// the reload was refused and that the previous keys stay; records a keys_loaded audit event.
void reload_keys(const NodeKeys& keys, const std::string& where, net::AuditSink* audit);

}  // namespace cyxp2p::tools::node
