// The engine's embedding API on real sockets (issue 16): an open completes only once the node answered it,
// errors carry the node's details, messages are read with completion tokens, and a close keeps its bounds.
#include <atomic>

#include "fixture.hpp"

namespace {
using it::Transport;

template <class F>
auto ready(F f) {
    EXPECT_EQ(f.wait_for(30s), std::future_status::ready);
    return f.get();
}

class EngineApi : public Transport {
  protected:
    // A node with `handlers` registered, and a connection whose token holds `scope`.
    std::shared_ptr<net::Connection> serve(std::function<void(net::Node&)> handlers,
                                           std::vector<std::string> scope = {"job:execute", "metrics:read"},
                                           std::function<void(net::NodeOptions&)> tweak = {}) {
        net::NodeOptions o{.identity = *identity_, .keys = keys_};  // NOLINT(missing-field-initializers)
        o.threads = 1;
        if (tweak) tweak(o);
        node_ = std::make_unique<net::Node>(std::move(o));
        handlers(*node_);
        EXPECT_FALSE(node_->start());
        run_io();
        auto [ec, conn] = connect(options(token([&](auth::Claims& c) { c.scope = scope; })));
        EXPECT_FALSE(ec) << ec.message();
        return conn;
    }
};

// Five metrics updates, then the node's end.
void five_updates(net::Node& n) {
    net::MethodHandlers h;
    h.on_end = [](const net::StreamPtr& s) {
        for (std::uint64_t step = 1; step <= 5; ++step) {
            s->send(protocol::encode(protocol::MetricsUpdate{step, 1, {{"loss", 1.0}}}));
        }
        s->finish();
    };
    n.handle("metrics.subscribe", "metrics:read", h);
    n.handle("job.control", "job:control", h);
}

TEST_F(EngineApi, OpenOfAnUnknownMethodCompletesWithTheRefusal) {
    auto conn = serve(five_updates);
    ASSERT_TRUE(conn);
    auto [ec, stream] = ready(conn->async_open_stream("no.such.method", boost::asio::use_future));
    EXPECT_EQ(ec, protocol::errc::unknown_method) << ec.message();
    ASSERT_TRUE(stream);  // holds the node's details
    EXPECT_EQ(stream->status().code, protocol::errc::unknown_method);
    EXPECT_NE(stream->status().message.find("no.such.method"), std::string::npos) << stream->status().message;
    EXPECT_TRUE(conn->open());  // a refused stream, not a failed connection
}

TEST_F(EngineApi, ForbiddenCallNamesTheMissingScope) {
    auto conn = serve(five_updates);
    ASSERT_TRUE(conn);
    auto [ec, stream] = ready(conn->async_open_stream("job.control", boost::asio::use_future));
    EXPECT_EQ(ec, protocol::errc::forbidden);
    ASSERT_TRUE(stream);
    EXPECT_NE(stream->status().message.find("job:control"), std::string::npos) << stream->status().message;
    // The unary form gives the same details through Reply::status.
    auto [cec, reply] = ready(conn->async_call("job.control", {}, boost::asio::use_future));
    EXPECT_EQ(cec, protocol::errc::forbidden);
    EXPECT_EQ(reply.status.code, protocol::errc::forbidden);
    EXPECT_EQ(reply.status.error(), cec);
    EXPECT_NE(reply.status.message.find("job:control"), std::string::npos) << reply.status.message;
    EXPECT_TRUE(reply.body.empty());
    // async_request still compiles and gives the code.
    auto [rec, body] = ready(conn->async_request("job.control", {}, boost::asio::use_future));
    EXPECT_EQ(rec, protocol::errc::forbidden);
}

TEST_F(EngineApi, RateLimitedCallCarriesTheRetryDelay) {
    // One stream open per peer per 10 s, no burst beyond it: the second call is refused with the delay.
    auto conn = serve(five_updates, {"job:execute", "metrics:read"}, [](net::NodeOptions& o) {
        o.rate.requests_per_peer.rate = {1, std::chrono::seconds(10), 1};
    });
    ASSERT_TRUE(conn);
    auto [ec, first] = ready(conn->async_subscribe("metrics.subscribe", {}, boost::asio::use_future));
    ASSERT_FALSE(ec) << ec.message();
    auto [rec, reply] = ready(conn->async_call("metrics.subscribe", {}, boost::asio::use_future));
    EXPECT_EQ(rec, protocol::errc::rate_limited) << rec.message();
    EXPECT_EQ(reply.status.code, protocol::errc::rate_limited);
    EXPECT_GT(reply.status.retry_after, 0ms);
    EXPECT_LE(reply.status.retry_after, 10s);
    EXPECT_FALSE(reply.status.message.empty());
}

TEST_F(EngineApi, SubscriptionIsReadWithAsyncReadToADistinctEnd) {
    auto conn = serve(five_updates);
    ASSERT_TRUE(conn);
    auto [ec, stream] = ready(conn->async_subscribe("metrics.subscribe", {}, boost::asio::use_future));
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_TRUE(stream);
    std::vector<std::uint64_t> steps;
    for (;;) {
        auto [rec, m] = ready(stream->async_read(boost::asio::use_future));
        if (rec == net::errc::end_of_stream) break;
        ASSERT_FALSE(rec) << rec.message();
        std::error_code dec;
        auto u = protocol::decode_metrics_update(m, dec);
        ASSERT_TRUE(u) << dec.message();
        steps.push_back(u->step);
    }
    EXPECT_EQ(steps, (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
    // Read again after the end: the same end, not a hang.
    EXPECT_EQ(std::get<0>(ready(stream->async_read(boost::asio::use_future))), net::errc::end_of_stream);
    auto [fec, status] = ready(stream->async_finish(boost::asio::use_future));
    EXPECT_FALSE(fec) << fec.message();
    EXPECT_TRUE(status.ok());
}

TEST_F(EngineApi, CancelEndsAPendingReadWithCancelled) {
    auto conn = serve([](net::Node& n) {
        net::MethodHandlers h;
        h.on_message = [](const net::StreamPtr&, std::vector<std::uint8_t>) {};
        h.on_end = [](const net::StreamPtr&) {};
        n.handle("metrics.subscribe", "metrics:read", h);  // never answers
    });
    ASSERT_TRUE(conn);
    auto [ec, stream] = ready(conn->async_open_stream("metrics.subscribe", boost::asio::use_future));
    ASSERT_FALSE(ec) << ec.message();
    auto read = stream->async_read(boost::asio::use_future);
    auto second = ready(stream->async_read(boost::asio::use_future));
    EXPECT_EQ(std::get<0>(second), net::errc::read_in_progress);
    EXPECT_FALSE(ready(stream->async_cancel(boost::asio::use_future)));
    EXPECT_EQ(std::get<0>(ready(std::move(read))), protocol::errc::cancelled);
    EXPECT_EQ(stream->status().code, protocol::errc::cancelled);
    auto [fec, status] = ready(stream->async_finish(boost::asio::use_future));
    EXPECT_EQ(fec, protocol::errc::cancelled);
    EXPECT_EQ(status.code, protocol::errc::cancelled);
}

// A node stream that never ends while it keeps sending: close(200 ms) cuts it within the bound, reports it,
// and no message arrives after the close completed. A second close: not_connected.
TEST_F(EngineApi, CloseCutsANeverEndingStreamInBoundedTime) {
    auto stop = std::make_shared<std::atomic<bool>>(false);
    std::vector<std::thread> producers;
    auto conn = serve([&](net::Node& n) {
        net::MethodHandlers h;
        h.on_open = [stop, &producers](const net::StreamPtr& s) {
            producers.emplace_back([s, stop] {
                while (!*stop) {
                    s->post([s] { s->send(std::vector<std::uint8_t>(64, 7)); });
                    std::this_thread::sleep_for(2ms);
                }
            });
        };
        h.on_message = [](const net::StreamPtr&, std::vector<std::uint8_t>) {};
        h.on_end = [](const net::StreamPtr&) {};
        n.handle("metrics.subscribe", "metrics:read", h);
    });
    ASSERT_TRUE(conn);
    std::atomic<int> received{0};
    std::atomic<bool> closed{false};
    std::atomic<int> after_close{0};
    std::promise<std::error_code> ended;
    auto [ec, stream] = ready(conn->async_open_stream(
        "metrics.subscribe",
        [&](std::vector<std::uint8_t>) {
            ++received;
            if (closed) ++after_close;
        },
        [&](std::error_code e) { ended.set_value(e); }, boost::asio::use_future));
    ASSERT_FALSE(ec) << ec.message();
    for (int i = 0; i < 3000 && received.load() <= 5; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_GT(received.load(), 5) << "the node's messages did not arrive";
    const auto t0 = std::chrono::steady_clock::now();
    auto [cec, cut] = ready(conn->async_close(200ms, boost::asio::use_future));
    const auto took = std::chrono::steady_clock::now() - t0;
    closed = true;
    EXPECT_FALSE(cec) << cec.message();
    EXPECT_EQ(cut, 1U);
    EXPECT_LT(took, 3s);
    EXPECT_GE(took, 150ms);  // the drain was given, not skipped
    auto end = ended.get_future();
    ASSERT_EQ(end.wait_for(0s), std::future_status::ready);  // the stream ended before the close completed
    EXPECT_TRUE(end.get());
    EXPECT_FALSE(conn->open());
    auto again = ready(conn->async_close(200ms, boost::asio::use_future));
    EXPECT_EQ(std::get<0>(again), net::errc::not_connected);
    EXPECT_EQ(std::get<1>(again), 0U);
    EXPECT_EQ(ready(conn->async_close(boost::asio::use_future)), net::errc::not_connected);
    std::this_thread::sleep_for(100ms);  // a late delivery would show here (not a timing assert)
    EXPECT_EQ(after_close.load(), 0);
    *stop = true;
    for (auto& t : producers) t.join();
}

}  // namespace

// An engine's own io_context runs out of work once its operations completed: no copy of a completion left
// behind (an operation keeps one per way it can end) holds the context busy, and no finished call keeps its
// connection alive. The install test's example engine, which ends with io.run(), hung here.
TEST_F(EngineApi, RunReturnsOnceACallAndACloseCompleted) {
    auto conn = serve([](net::Node& n) {
        n.handle_unary("job.submit", "job:execute", [](const net::Request&, std::error_code&) {
            return protocol::encode(protocol::Outcome{true, "", "accepted"});
        });
    });
    ASSERT_TRUE(conn);
    boost::asio::io_context io;
    std::weak_ptr<net::Connection> weak;
    std::error_code call_ec = net::errc::not_connected, close_ec = net::errc::not_connected;
    {
        net::Engine engine(io.get_executor());
        engine.async_connect(options(token([](auth::Claims& c) { c.scope = {"job:execute"}; })),
                             [&](std::error_code ec, std::shared_ptr<net::Connection> c) {
                                 ASSERT_FALSE(ec) << ec.message();
                                 weak = c;
                                 c->async_request(
                                     "job.submit", protocol::encode(protocol::JobSubmit{"job-1", {}}),
                                     [&, c](std::error_code e, std::vector<std::uint8_t>) {
                                         call_ec = e;
                                         c->async_close([&](std::error_code ce) { close_ec = ce; });
                                     });
                             });
        io.run_for(20s);
        EXPECT_TRUE(io.stopped()) << "run() still had work 20 s after the call and the close completed";
    }
    EXPECT_FALSE(call_ec) << call_ec.message();
    EXPECT_FALSE(close_ec) << close_ec.message();
    EXPECT_TRUE(weak.expired()) << "the connection outlived every operation and handle";
}
