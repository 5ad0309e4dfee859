// Roles -> scopes and the method -> scope table.
#include <algorithm>

#include <gtest/gtest.h>

#include <cyxp2p/auth/scope.hpp>

namespace cyxp2p::auth {
namespace {

bool grants(Role r, std::string_view s) {
    auto scopes = scopes_for(r);
    return std::find(scopes.begin(), scopes.end(), s) != scopes.end();
}

TEST(AuthScope, RolesGrantTheSeedsPermissions) {
    EXPECT_TRUE(grants(Role::user, scope::job_execute));
    EXPECT_FALSE(grants(Role::user, scope::metrics_report));
    EXPECT_FALSE(grants(Role::user, scope::node_admin));
    EXPECT_TRUE(grants(Role::node, scope::metrics_report));
    EXPECT_FALSE(grants(Role::node, scope::job_execute));
    for (auto s : all_scopes()) EXPECT_TRUE(grants(Role::admin, s)) << s;
    EXPECT_EQ(role_from_string("node"), Role::node);
    EXPECT_FALSE(role_from_string("Node"));
}

TEST(AuthScope, MayCallNeedsTheMethodsScopeAndAKnownMethod) {
    Claims c;
    c.scope = {"job:execute", "metrics:report"};
    EXPECT_TRUE(may_call(c, "job.submit"));
    EXPECT_TRUE(may_call(c, "metrics.report"));
    EXPECT_FALSE(may_call(c, "job.cancel"));
    EXPECT_FALSE(may_call(c, "node.configure"));
    EXPECT_FALSE(may_call(c, "job.submit2"));  // unknown method: fail closed
    EXPECT_EQ(required_scope("content.fetch"), scope::content_read);
    EXPECT_FALSE(required_scope(""));
    Claims none;
    EXPECT_FALSE(may_call(none, "job.submit"));
}

}  // namespace
}  // namespace cyxp2p::auth
