#include "resume_state.hpp"

#include <cyxp2p/content/download.hpp>

namespace cyxp2p::tools::probe {

// The state itself belongs to content::Download (content/download.hpp: DEST.cyxp2p-partial holding the
// verified prefix, DEST.cyxp2p-partial.meta naming the held leaves); this only translates its read-only
// inspection for the fetch's advice.
ResumeState inspect_resume_state(const std::filesystem::path& destination, const content::Cid& root) {
    const auto held = content::Download::inspect(destination, root);
    ResumeState s;
    s.path = content::Download::partial_path(destination);
    s.destination = destination;
    s.exists = held.exists;
    s.for_this_root = held.for_this_root;
    s.verified_blocks = held.leaves;
    s.verified_bytes = held.bytes;
    s.corrupt = held.damaged;
    s.problem = held.problem;
    return s;
}

bool discard_resume_state(const ResumeState& state, std::error_code& ec) {
    ec = content::Download::remove_state(state.destination);
    return !ec;
}

}  // namespace cyxp2p::tools::probe
