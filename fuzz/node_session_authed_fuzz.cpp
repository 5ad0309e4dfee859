// A NodeSession after a real handshake (an EngineSession presents a token minted for this node at the fixed
// time), then the fuzz input as further engine bytes: OPEN, DATA, WINDOW_UPDATE, PING, REAUTH, GOAWAY...
#include "session_fixture.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cyxp2p;
    auto now = fuzz::at(fuzz::kNow);
    fuzz::NodeRig rig(now);
    protocol::EngineSession engine(fuzz::engine_config(), now);
    fuzz::handshake(engine, *rig.node, now);
    fuzz::play(*rig.node, fuzz::script(data, size), now,
               [](protocol::NodeSession& n, protocol::Now) { fuzz::react(n); });
    return 0;
}
