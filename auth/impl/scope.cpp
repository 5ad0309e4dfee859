// Roles -> scopes and method -> scope (RBAC on the Engine-Node link). docs/auth.md has the tables.
#include <array>
#include <utility>

#include <cyxp2p/auth/scope.hpp>

namespace cyxp2p::auth {
namespace {

using namespace std::string_view_literals;

constexpr std::array kAll = {scope::job_execute,    scope::job_control,  scope::metrics_read,
                             scope::metrics_report, scope::content_read, scope::content_write,
                             scope::node_admin};
// The seed: User submits and watches jobs; Node reports progress; Admin manages nodes.
constexpr std::array kUser = {scope::job_execute, scope::job_control, scope::metrics_read,
                              scope::content_read, scope::content_write};
constexpr std::array kNode = {scope::metrics_report, scope::content_read};

// Methods the protocol opens streams for (docs/protocol.md names them); each needs one scope.
constexpr std::array<MethodScope, 12> kMethods = {{
    {"job.submit"sv, scope::job_execute},
    {"job.pause"sv, scope::job_control},
    {"job.resume"sv, scope::job_control},
    {"job.cancel"sv, scope::job_control},
    {"job.checkpoint"sv, scope::job_control},
    {"job.set_hyperparameters"sv, scope::job_control},
    {"metrics.subscribe"sv, scope::metrics_read},
    {"metrics.report"sv, scope::metrics_report},
    {"content.fetch"sv, scope::content_read},
    {"content.put"sv, scope::content_write},
    {"node.status"sv, scope::node_admin},
    {"node.configure"sv, scope::node_admin},
}};

}  // namespace

std::span<const MethodScope> method_scopes() noexcept {
    return kMethods;
}

std::span<const std::string_view> all_scopes() noexcept {
    return kAll;
}

const char* to_string(Role r) noexcept {
    switch (r) {
        case Role::user:
            return "user";
        case Role::node:
            return "node";
        case Role::admin:
            return "admin";
    }
    return "unknown";
}

std::optional<Role> role_from_string(std::string_view s) noexcept {
    for (auto r : {Role::user, Role::node, Role::admin}) {
        if (s == to_string(r)) return r;
    }
    return std::nullopt;
}

std::span<const std::string_view> scopes_for(Role r) noexcept {
    switch (r) {
        case Role::user:
            return kUser;
        case Role::node:
            return kNode;
        case Role::admin:
            return kAll;
    }
    return {};
}

std::optional<std::string_view> required_scope(std::string_view method) noexcept {
    for (const auto& [m, s] : kMethods) {
        if (m == method) return s;
    }
    return std::nullopt;
}

bool may_call(const Claims& claims, std::string_view method) noexcept {
    const auto needed = required_scope(method);
    return needed.has_value() && claims.has_scope(*needed);
}

}  // namespace cyxp2p::auth
