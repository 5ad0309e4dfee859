// One place that knows every module's error category, so audit records and the tools name a code the same
// way whichever layer produced it.
#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/ratelimit/errc.hpp>
#include <cyxp2p/replay/errc.hpp>

namespace cyxp2p::net {
namespace {

template <class Errc>
bool name_in(const std::error_code& ec, const std::error_category& cat, std::string& out) {
    if (ec.category() != cat) return false;
    out = to_string(static_cast<Errc>(ec.value()));
    return true;
}

}  // namespace

std::string error_name(const std::error_code& ec, std::string_view fallback) {
    std::string name;
    if (name_in<errc>(ec, category(), name) || name_in<pinning::errc>(ec, pinning::category(), name) ||
        name_in<protocol::errc>(ec, protocol::category(), name) ||
        name_in<auth::errc>(ec, auth::category(), name) ||
        name_in<content::errc>(ec, content::category(), name) ||
        name_in<ratelimit::errc>(ec, ratelimit::category(), name) ||
        name_in<replay::errc>(ec, replay::category(), name)) {
        return name;
    }
    return std::string(fallback);
}

}  // namespace cyxp2p::net
