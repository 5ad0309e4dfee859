// Scopes and roles: the seed's roles (User, Node, Admin) as sets of scopes, and the table that says which
// scope a method on the Engine-Node link needs. Unknown methods need a scope no token has (fail closed).
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include <cyxp2p/auth/claims.hpp>

namespace cyxp2p::auth {

namespace scope {
inline constexpr std::string_view job_execute = "job:execute";        // submit a job to the node
inline constexpr std::string_view job_control = "job:control";        // pause, resume, cancel, checkpoint
inline constexpr std::string_view metrics_read = "metrics:read";      // receive training metrics
inline constexpr std::string_view metrics_report = "metrics:report";  // send training metrics / progress
inline constexpr std::string_view content_read = "content:read";      // fetch models and datasets by CID
inline constexpr std::string_view content_write = "content:write";    // upload datasets to the node
inline constexpr std::string_view node_admin = "node:admin";          // node status and configuration
}  // namespace scope

/// Every scope name above, in that order.
std::span<const std::string_view> all_scopes() noexcept;

enum class Role { user, node, admin };
const char* to_string(Role r) noexcept;
std::optional<Role> role_from_string(std::string_view s) noexcept;

/// The scopes a role grants (docs/auth.md has the table).
std::span<const std::string_view> scopes_for(Role r) noexcept;

/// One row of the method table: a method the protocol opens streams for and the scope it needs.
struct MethodScope {
    std::string_view method;
    std::string_view scope;
};
/// The whole method table, in the order docs/auth.md lists it (for help texts and error advice).
std::span<const MethodScope> method_scopes() noexcept;

/// The scope `method` needs, or nullopt for a method not in the table.
std::optional<std::string_view> required_scope(std::string_view method) noexcept;

/// Whether a token with these claims may call `method`: the method is known and its scope is in `scope`.
bool may_call(const Claims& claims, std::string_view method) noexcept;

}  // namespace cyxp2p::auth
