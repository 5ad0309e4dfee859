// Raw bytes from an unauthenticated peer into a NodeSession: whatever arrives before (or instead of) a valid
// HELLO. Seeds hold real HELLOs (fixed key, fixed clock) so the fuzzer also walks past the handshake.
#include "session_fixture.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cyxp2p;
    auto now = fuzz::at(fuzz::kNow);
    fuzz::NodeRig rig(now);
    fuzz::play(*rig.node, fuzz::script(data, size), now,
               [](protocol::NodeSession& n, protocol::Now) { fuzz::react(n); });
    return 0;
}
