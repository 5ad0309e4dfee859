// Includes only the umbrella header, to prove it is self-contained and offers the whole module.
#include <gtest/gtest.h>

#include <cyxp2p/protocol/protocol.hpp>

namespace p = cyxp2p::protocol;

TEST(ProtocolUmbrella, FramesRoundTrip) {
    p::FrameEncoder enc;
    const std::vector<std::uint8_t> payload{1, 2, 3};
    enc.append(p::FrameType::data, 0, 1, payload);
    auto wire = enc.take();
    ASSERT_EQ(wire.size(), p::frame_header_size + payload.size());
    p::FrameDecoder dec(p::SessionLimits{}.max_frame_size);
    dec.feed(wire);
    std::error_code ec;
    auto f = dec.next(ec);
    ASSERT_TRUE(f) << ec.message();
    EXPECT_EQ(f->header.stream_id, 1U);
    EXPECT_EQ(std::vector<std::uint8_t>(f->payload.begin(), f->payload.end()), payload);
}
