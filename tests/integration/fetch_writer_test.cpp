// The engine's receive path against a real node: a fetch's disk writer that blocks holds the node to the
// stream's window (what waits for the writer stays bounded), and the fetch completes once it moves again.
#include <atomic>
#include <condition_variable>

#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/net/impl/fetch_writer.hpp>

#include "fixture.hpp"

namespace {

using it::Transport;

class FetchWriterTest : public Transport {
  protected:
    void TearDown() override {
        release();
        net::detail::fetch_writer_test_hook = nullptr;
        Transport::TearDown();
    }
    void release() {
        {
            std::lock_guard lock(mutex_);
            open_ = true;
        }
        gate_.notify_all();
    }

    std::mutex mutex_;
    std::condition_variable gate_;
    bool open_ = false;
};

TEST_F(FetchWriterTest, BlockedWriterHoldsTheNodeToTheWindow) {
    start_node();
    run_io();
    auto [ec, conn] = connect(options(token()));
    ASSERT_FALSE(ec) << ec.message();
    // Jobs 1 and 2 (open, the root block) run; from the third on, the "disk" blocks until released.
    std::atomic<int> jobs{0};
    std::atomic<const net::detail::FetchWriter*> writer{nullptr};
    net::detail::fetch_writer_test_hook = [&](const net::detail::FetchWriter& w) {
        writer = &w;
        if (++jobs < 3) return;
        std::unique_lock lock(mutex_);
        gate_.wait(lock, [&] { return open_; });
    };
    const auto dest = tmp_ / "fetched.bin";
    auto result = conn->async_fetch(root_, dest, {}, boost::asio::use_future);
    // While the writer is blocked, the node keeps sending only as far as the credit it was given: what the
    // strand handed over and the writer has not consumed stops growing at about the stream's window.
    std::size_t most = 0;
    const auto until = std::chrono::steady_clock::now() + 1500ms;
    while (std::chrono::steady_clock::now() < until) {
        if (const auto* w = writer.load()) most = std::max(most, w->queued_bytes());
        std::this_thread::sleep_for(5ms);
    }
    const std::size_t window = protocol::SessionLimits{}.initial_stream_window;
    const std::size_t block = 256 * 1024 + 64;  // a 256 KiB leaf and its framing
    EXPECT_GE(most, block) << "the writer's queue never filled: the test did not block anything";
    EXPECT_LE(most, window + block);  // not the file's 3 MiB
    EXPECT_NE(result.wait_for(0s), std::future_status::ready);
    release();
    ASSERT_EQ(result.wait_for(60s), std::future_status::ready);
    auto [fec, r] = result.get();
    ASSERT_FALSE(fec) << fec.message();
    EXPECT_EQ(cyxp2p::test::read_file(dest), cyxp2p::test::read_file(source_));
    EXPECT_EQ(r.bytes, std::filesystem::file_size(source_));
}

TEST_F(FetchWriterTest, WriterErrorEndsTheFetchWithItsCodeAndPath) {
    start_node();
    run_io();
    auto [ec, conn] = connect(options(token()));
    ASSERT_FALSE(ec) << ec.message();
    // The destination's directory disappears once the fetch is under way: the writer's next checkpoint or
    // commit fails locally, and the fetch ends with a local error naming the path, not a node fault.
    const auto dir = tmp_ / "out";
    std::filesystem::create_directories(dir);
    std::atomic<int> jobs{0};
    net::detail::fetch_writer_test_hook = [&](const net::detail::FetchWriter&) {
        if (++jobs == 3) std::filesystem::remove_all(dir);
    };
    auto result = conn->async_fetch(root_, dir / "fetched.bin", {}, boost::asio::use_future);
    ASSERT_EQ(result.wait_for(60s), std::future_status::ready);
    auto [fec, r] = result.get();
    EXPECT_EQ(fec, content::errc::write_failed) << fec.message();
    EXPECT_NE(r.error_detail.find((dir / "fetched.bin").string()), std::string::npos) << r.error_detail;
    EXPECT_FALSE(audit_->has(net::AuditEvent::Kind::content_rejected, "write_failed"));
    EXPECT_TRUE(conn->open());  // a local failure cancels the stream, never the session
}

}  // namespace
