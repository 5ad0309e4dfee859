// A hostile engine against the real Node's send path: credit it hands out without ever reading, so whatever
// the node holds for it is what the node chose to buffer. What it may hold is documented in docs/net.md
// ("Send path memory"): the producer's marks, never the peer's windows.
#include <cstring>

#include "hostile_engine.hpp"

namespace {

using hostile::HostileEngine;

class HostileWindow : public HostileEngine {
  protected:
    // 32 MiB of random bytes in kubo's default 256 KiB leaves: far more than a loopback socket pair holds
    // while its reader sleeps (the reader's receive buffer does not grow while nobody reads).
    static constexpr std::size_t kFileBytes = 32U << 20;
    static constexpr std::size_t kBlock = 256U << 10;
    // A ContentBlock message: the block, its CID and msgpack framing, well under 1 KiB more.
    static constexpr std::size_t kMessage = kBlock + 1024;

    void start_content_node() {
        std::error_code ec;
        const auto source = tmp_ / "model.bin";
        std::mt19937_64 rng(11);
        std::string data(kFileBytes, '\0');
        for (std::size_t i = 0; i + 8 <= data.size(); i += 8) {
            const auto v = rng();
            std::memcpy(&data[i], &v, 8);
        }
        cyxp2p::test::write_file(source, data);
        auto store = content::Blockstore::open(tmp_ / "blocks", ec);
        ASSERT_TRUE(store) << ec.message();
        auto imported =
            content::import_file(source, content::ImportOptions::kubo_default(), store->sink(source), ec);
        ASSERT_TRUE(imported) << ec.message();
        root_ = imported->root.to_string();
        start_node([&](net::NodeOptions& o) { o.content = store; });
    }

    // OPEN content.fetch on stream 1 and its one request message.
    void request_fetch(raw::Tls& t) {
        open(t, 1, "content.fetch", nonce(), hostile::now_ms());
        const auto body = protocol::encode(protocol::ContentFetch{root_, 0});
        t.frame(FrameType::data, protocol::flags::end_stream, 1, raw::message(body));
        ASSERT_TRUE(t.flush(raw::in(5s)));
    }

    // The node has stopped moving this fetch forward: nothing more queued for 1.5 s (the peer reads nothing,
    // so once the sockets are full the node can only wait). Returns the block bytes it queued in all.
    std::uint64_t served_when_settled() {
        const auto& m = node_->metrics();
        auto last = m.content_bytes_served.load();
        auto since = raw::Clock::now();
        const auto deadline = raw::in(30s);
        while (raw::Clock::now() < deadline) {
            std::this_thread::sleep_for(50ms);
            const auto now = m.content_bytes_served.load();
            if (now != last) {
                last = now;
                since = raw::Clock::now();
            } else if (raw::Clock::now() - since >= 1500ms) {
                return now;
            }
        }
        ADD_FAILURE() << "the node kept serving a peer that reads nothing";
        return last;
    }

    // Everything the node may hold for one fetch stream, by construction (docs/net.md): the session queue
    // (producer_high_water, plus the one message that crossed it), the read-ahead (content_read_ahead, plus
    // one message) and a few control frames.
    static std::int64_t send_path_bound() {
        return static_cast<std::int64_t>(protocol::SessionLimits{}.producer_high_water +
                                         net::Limits{}.content_read_ahead + 2 * kMessage + (64U << 10));
    }

    std::string root_;
};

TEST_F(HostileWindow, HugeWindowsDoNotMakeTheNodeBufferMore) {
    ASSERT_NO_FATAL_FAILURE(start_content_node());
    connect_honest();
    auto t = session();
    ASSERT_TRUE(t);
    // Credit up to 2^31-1 on the session and on the stream, in many updates (each one legal), before and
    // after the request: the node may send the whole file at once as far as flow control goes.
    const protocol::SessionLimits d{};
    const std::uint32_t session_room = 0x7FFFFFFFU - d.initial_session_window;
    const std::uint32_t stream_room = 0x7FFFFFFFU - d.initial_stream_window;
    for (int i = 0; i < 64; ++i) t->frame(FrameType::window_update, 0, 0, raw::u32(session_room / 128));
    request_fetch(*t);
    for (int i = 0; i < 128; ++i) t->frame(FrameType::window_update, 0, 1, raw::u32(stream_room / 128));
    for (int i = 0; i < 64; ++i) t->frame(FrameType::window_update, 0, 0, raw::u32(session_room / 128));
    ASSERT_TRUE(t->flush(raw::in(5s)));
    // ... and never reads a byte of it.
    const auto served = served_when_settled();
    EXPECT_LT(served, kFileBytes) << "the node read the whole file for a peer that reads nothing";
    const auto& m = node_->metrics();
    EXPECT_GT(m.send_buffered_peak_bytes.load(), 0) << "the gauge never moved: the test measured nothing";
    EXPECT_LE(m.send_buffered_peak_bytes.load(), send_path_bound())
        << "the node buffered beyond its producer marks on a peer's credit";
    EXPECT_LE(m.send_buffered_bytes.load(), send_path_bound());
    // The node's I/O thread is not stuck behind the full socket: other sessions go on.
    expect_honest_works();
    // The honest session answered the node's RTT PING: its smoothed RTT lands in /metrics when it ends.
    auto closed = honest_->async_close(boost::asio::use_future);
    ASSERT_EQ(closed.wait_for(10s), std::future_status::ready);
    eventually([&] { return node_->metrics().session_rtt.count() == 1; },
               "the honest session's RTT was not observed at its end");
    // Closing the never-reading session gives everything it held back.
    t.reset();
    eventually([&] { return node_->metrics().send_buffered_bytes.load() == 0; },
               "bytes still counted as buffered after the session closed");
}

TEST_F(HostileWindow, APeerThatNeverReadsGetsNoMoreThanTheWindowsAndTheMarks) {
    ASSERT_NO_FATAL_FAILURE(start_content_node());
    auto t = session();
    ASSERT_TRUE(t);
    request_fetch(*t);  // the default windows, never replenished: the engine reads nothing
    const auto served = served_when_settled();
    const protocol::SessionLimits d{};
    // DATA leaves only on credit: what was queued is the stream window plus what waits in the node's queue
    // and read-ahead (each message counted as queued when it entered the session).
    EXPECT_LE(static_cast<std::int64_t>(served),
              static_cast<std::int64_t>(d.initial_stream_window) + send_path_bound());
    EXPECT_GE(served, d.initial_stream_window) << "the node did not even fill the window it was given";
    EXPECT_LE(node_->metrics().send_buffered_peak_bytes.load(), send_path_bound());
    t.reset();
    eventually([&] { return node_->metrics().send_buffered_bytes.load() == 0; },
               "bytes still counted as buffered after the session closed");
}

}  // namespace
