// Flow control on real sockets through the WAN emulator (tools/wan): a fetch over a long fat path grows its
// receive window to the cap while it moves, and a 1 KiB request on a second stream is answered while the
// bulk stream saturates the path. Assertions are on behaviour (window sizes, bytes moved before the cap,
// ordering of completions), not on wall-clock time: the machine running them is shared.
#include <wan_proxy.hpp>

#include "fixture.hpp"

namespace wan = cyxp2p::tools::wan;

namespace it {
namespace {

constexpr std::uint64_t kMiB = 1U << 20;

class FlowOverWan : public Transport {
  protected:
    // A 64 MiB file: the window ramp (256 KiB doubling to 16 MiB) is over after about 8 MiB.
    void SetUp() override {
        Transport::SetUp();
        std::error_code ec;
        big_ = tmp_ / "weights.bin";
        std::mt19937_64 rng(7);
        std::string data(64 * kMiB, '\0');
        for (std::size_t i = 0; i + 8 <= data.size(); i += 8) {
            const auto v = rng();
            std::memcpy(data.data() + i, &v, 8);
        }
        cyxp2p::test::write_file(big_, data);
        auto imported =
            content::import_file(big_, content::ImportOptions::kubo_default(), store_->sink(big_), ec);
        ASSERT_TRUE(imported) << ec.message();
        big_root_ = imported->root.to_string();
    }

    /// 200 ms round trip, 200 MiB/s each way: a bandwidth-delay product of 40 MiB, beyond the 16 MiB stream
    /// window cap, so a transport that does not grow its windows cannot fill it.
    std::unique_ptr<wan::BackgroundWanProxy> start_wan() {
        return std::make_unique<wan::BackgroundWanProxy>(
            node_->local_port(), wan::WanLink{.one_way_delay = 100ms, .rate_bytes_per_s = 200 * kMiB});
    }

    std::filesystem::path big_;
    std::string big_root_;
};

TEST_F(FlowOverWan, FetchGrowsItsWindowToTheCapAndMeasuresTheRtt) {
    start_node();
    run_io();
    auto proxy = start_wan();
    auto o = options(token());
    o.port = proxy->port();
    auto [ec, conn] = connect(std::move(o));
    ASSERT_FALSE(ec) << ec.message();
    const auto dest = tmp_ / "fetched.bin";
    std::atomic<std::uint64_t> done_at_cap{0};
    std::atomic<std::uint64_t> session_window_at_cap{0};
    auto result = conn->async_fetch(
        big_root_, dest,
        [&, c = conn.get()](std::uint64_t done, std::uint64_t) {
            // Progress runs on the connection's strand, between two messages.
            if (done_at_cap == 0 &&
                c->flow_stats().largest_stream_window >= protocol::SessionLimits{}.max_stream_window) {
                done_at_cap = done;
                // While the stream is open the session window follows it (>= 1.5x); once the stream has
                // closed the session may give growth back to the budget, so this is checked here.
                session_window_at_cap = c->flow_stats().session_window;
            }
        },
        boost::asio::use_future);
    ASSERT_EQ(result.wait_for(240s), std::future_status::ready);
    auto [fec, r] = result.get();
    ASSERT_FALSE(fec) << fec.message();
    EXPECT_EQ(r.bytes, 64 * kMiB);
    EXPECT_EQ(cyxp2p::test::read_file(dest), cyxp2p::test::read_file(big_));
    const auto stats = conn->flow_stats();
    EXPECT_EQ(stats.largest_stream_window, 16 * kMiB);
    EXPECT_GE(session_window_at_cap.load(), 24 * kMiB);
    ASSERT_TRUE(stats.smoothed_rtt);
    EXPECT_GE(*stats.min_rtt, 200ms);  // the emulated path, measured by the session's own PINGs
    EXPECT_GT(stats.rtt_samples, 1U);  // periodic samples while data flowed
    // The ramp is bounded: each doubling needs half the window consumed within about two round trips, so
    // 256 KiB -> 16 MiB takes six epochs and about 8 MiB (one epoch per round trip: ~7 RTTs); 24 MiB
    // leaves room for a loaded machine, and is far from the 64 MiB end of the transfer.
    EXPECT_GT(done_at_cap.load(), 0U);
    EXPECT_LE(done_at_cap.load(), 24 * kMiB);
    RecordProperty("mib_before_cap", std::to_string(done_at_cap.load() / kMiB));
}

TEST_F(FlowOverWan, SmallRequestIsAnsweredWhileABulkFetchSaturatesThePath) {
    start_node();
    run_io();
    auto proxy = start_wan();
    auto o = options(token());
    o.port = proxy->port();
    auto [ec, conn] = connect(std::move(o));
    ASSERT_FALSE(ec) << ec.message();
    std::promise<void> bulk_flowing;
    std::atomic<bool> signalled{false};
    std::atomic<bool> fetch_done{false};
    std::promise<std::error_code> fetch_result;
    conn->async_fetch(
        big_root_, tmp_ / "bulk.bin",
        [&](std::uint64_t done, std::uint64_t) {
            if (done >= 8 * kMiB && !signalled.exchange(true)) bulk_flowing.set_value();
        },
        [&](std::error_code fec, net::FetchResult) {
            fetch_done = true;
            fetch_result.set_value(fec);
        });
    ASSERT_EQ(bulk_flowing.get_future().wait_for(120s), std::future_status::ready);
    ASSERT_FALSE(fetch_done.load());
    auto reply = conn->async_request("job.submit", protocol::encode(protocol::JobSubmit{"job-1", {}}),
                                     boost::asio::use_future);
    ASSERT_EQ(reply.wait_for(120s), std::future_status::ready);
    const bool fetch_was_running = !fetch_done.load();
    auto [rec, body] = reply.get();
    ASSERT_FALSE(rec) << rec.message();
    std::error_code dec;
    auto status = protocol::decode_outcome(body, dec);
    ASSERT_TRUE(status) << dec.message();
    EXPECT_EQ(status->message, "job-1 from user-7");
    // The request overtook the rest of the 64 MiB: it did not wait for the bulk stream to drain.
    EXPECT_TRUE(fetch_was_running);
    auto fetched = fetch_result.get_future();
    ASSERT_EQ(fetched.wait_for(240s), std::future_status::ready);
    EXPECT_FALSE(fetched.get());
}

}  // namespace
}  // namespace it
