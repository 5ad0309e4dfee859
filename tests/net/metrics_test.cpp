// Metrics that net/ computes itself rather than counting events: the send-buffer gauge and its peak, the
// session RTT histogram, as /metrics renders them.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include <cyxp2p/net/metrics.hpp>

namespace net = cyxp2p::net;
using namespace std::chrono_literals;

namespace {

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(NodeMetrics, SendBufferedGaugeKeepsItsPeak) {
    net::Metrics m;
    m.send_buffered(100);
    m.send_buffered(50);
    m.send_buffered(-120);
    EXPECT_EQ(m.send_buffered_bytes.load(), 30);
    EXPECT_EQ(m.send_buffered_peak_bytes.load(), 150);
    m.send_buffered(60);  // 90: below the old peak, which stays
    EXPECT_EQ(m.send_buffered_peak_bytes.load(), 150);
    const auto text = m.prometheus();
    EXPECT_TRUE(has_line(text, "cyxp2p_node_send_buffered_bytes 90")) << text;
    EXPECT_TRUE(has_line(text, "cyxp2p_node_send_buffered_peak_bytes 150")) << text;
    EXPECT_NE(text.find("# TYPE cyxp2p_node_send_buffered_bytes gauge"), std::string::npos);
}

TEST(NodeMetrics, SessionRttLandsInItsBucket) {
    net::Metrics m;
    m.session_rtt.observe(3ms);    // a LAN: between 2.5 and 5 ms
    m.session_rtt.observe(120ms);  // across an ocean: between 100 and 200 ms
    const auto text = m.prometheus();
    EXPECT_TRUE(has_line(text, "cyxp2p_node_session_rtt_seconds_bucket{le=\"0.0025\"} 0")) << text;
    EXPECT_TRUE(has_line(text, "cyxp2p_node_session_rtt_seconds_bucket{le=\"0.005\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "cyxp2p_node_session_rtt_seconds_bucket{le=\"0.1\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "cyxp2p_node_session_rtt_seconds_bucket{le=\"0.2\"} 2")) << text;
    EXPECT_TRUE(has_line(text, "cyxp2p_node_session_rtt_seconds_count 2")) << text;
}

}  // namespace
