// Includes only the umbrella header, to prove it is self-contained and offers the whole module.
#include <gtest/gtest.h>

#include <cyxp2p/net/net.hpp>

namespace net = cyxp2p::net;

TEST(NetUmbrella, OffersEngineOptionsMetricsAndErrors) {
    const net::EngineOptions engine;
    EXPECT_EQ(engine.connect_timeout, net::Limits{}.connect_timeout);
    EXPECT_EQ(engine.session.max_frame_size, cyxp2p::protocol::SessionLimits{}.max_frame_size);
    const net::EngineMetrics metrics;
    EXPECT_NE(metrics.prometheus().find("cyxp2p_engine_"), std::string::npos);
    EXPECT_STREQ(net::to_string(net::errc::address_in_use), "address_in_use");
}
