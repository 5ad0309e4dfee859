// An EngineSession that has sent its HELLO, fed the fuzz input as the node's bytes (HELLO_ACK or ERROR, then
// stream traffic). The engine opens a stream as soon as it is ready, so stream frames have a target.
#include "session_fixture.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cyxp2p;
    auto now = fuzz::at(fuzz::kNow);
    auto config = fuzz::engine_config();
    config.expected_node_id = std::string(fuzz::kNodeId);
    protocol::EngineSession engine(std::move(config), now);
    (void)engine.poll_output();  // HELLO
    fuzz::play(engine, fuzz::script(data, size), now,
               [](protocol::EngineSession& e, protocol::Now t) { fuzz::react(e, t); });
    return 0;
}
