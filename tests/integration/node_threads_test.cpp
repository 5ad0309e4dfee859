// The node's handler API used from other threads (run under ThreadSanitizer by CI, label `threads`): a
// producer thread streaming through ServerStream::send/finish, a unary call answered later by another
// thread through its Responder.
#include "hostile_engine.hpp"
#include "node_ends.hpp"

namespace hostile {
namespace {

class NodeThreads : public HostileEngine {
  protected:
    void TearDown() override {
        HostileEngine::TearDown();
        std::lock_guard lock(threads_mutex_);
        for (auto& t : threads_) t.join();
    }
    void spawn(std::function<void()> fn) {
        std::lock_guard lock(threads_mutex_);
        threads_.emplace_back(std::move(fn));
    }

    std::mutex threads_mutex_;
    std::vector<std::thread> threads_;
    StreamEnds ends_;
};

// 1000 messages and the finish from a std::thread, not the connection's: all arrive, intact and in order,
// and the stream ends once (finished).
TEST_F(NodeThreads, ProducerOnAnotherThreadStreamsToTheEngine) {
    constexpr std::uint64_t kMessages = 1000;
    extra_handlers_ = [this](net::Node& n) {
        net::MethodHandlers h;
        h.on_end = [this](const net::StreamPtr& s) {
            spawn([s] {
                EXPECT_FALSE(s->on_connection_thread());
                for (std::uint64_t i = 0; i < kMessages; ++i) {
                    const auto m = protocol::encode(
                        protocol::MetricsUpdate{i, 1, {{"loss", 1.0 / static_cast<double>(i + 1)}}});
                    ASSERT_FALSE(s->send(m)) << i;
                    // Backpressure off the connection's thread: the count is an estimate, so only a bound.
                    while (s->pending_bytes() > (4U << 20) && !s->closed()) std::this_thread::yield();
                }
                ASSERT_FALSE(s->finish());
            });
        };
        n.handle("job.progress", "job:execute", ends_.counted(std::move(h)));
    };
    start_node([](net::NodeOptions& o) { o.threads = 2; });
    connect_honest();
    struct Received {
        std::vector<std::uint64_t> steps;
        bool intact = true;
    };
    auto got = std::make_shared<Received>();  // written on the engine's strand only
    std::promise<std::error_code> done;
    honest_->subscribe(
        "job.progress", protocol::encode(protocol::JobSubmit{"j", {}}),
        [got](std::vector<std::uint8_t> m) {
            std::error_code ec;
            auto u = protocol::decode_metrics_update(m, ec);
            if (!u) {
                got->intact = false;
                return;
            }
            got->steps.push_back(u->step);
        },
        [&done](std::error_code ec) { done.set_value(ec); });
    auto f = done.get_future();
    ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
    EXPECT_FALSE(f.get());
    // done ran on the strand after every message: what it wrote is visible through the promise.
    EXPECT_TRUE(got->intact);
    ASSERT_EQ(got->steps.size(), kMessages);
    for (std::uint64_t i = 0; i < kMessages; ++i) ASSERT_EQ(got->steps[i], i);
    auto end = ends_.wait_for_ends(1);
    ASSERT_TRUE(end);
    EXPECT_EQ(end->reason, net::StreamEnd::Reason::finished);
    node_->stop();
    for (const auto& [key, n] : ends_.counts()) EXPECT_EQ(n, 1) << key;
    EXPECT_EQ(ends_.late_callbacks(), 0);
}

// The handler hands its Responder to another thread, which answers 50 ms later.
TEST_F(NodeThreads, UnaryReplyFromAnotherThreadArrives) {
    extra_handlers_ = [this](net::Node& n) {
        n.handle_unary("job.later", "job:execute", [this](net::Request r, net::Responder answer) {
            spawn([r = std::move(r), answer] {
                std::this_thread::sleep_for(50ms);  // a GPU scheduler deciding; not a timing assert
                std::error_code ec;
                auto job = protocol::decode_job_submit(r.body, ec);
                EXPECT_FALSE(
                    answer.reply(protocol::encode(protocol::Outcome{true, "", "queued " + job->job_id})));
                EXPECT_EQ(answer.reply({}), net::errc::already_answered);
            });
        });
    };
    start_node();
    connect_honest();
    auto r = honest_->async_request("job.later", protocol::encode(protocol::JobSubmit{"job-9", {}}),
                                    boost::asio::use_future);
    ASSERT_EQ(r.wait_for(10s), std::future_status::ready);
    auto [ec, body] = r.get();
    ASSERT_FALSE(ec) << ec.message();
    auto status = protocol::decode_outcome(body, ec);
    ASSERT_TRUE(status);
    EXPECT_EQ(status->message, "queued job-9");
}

}  // namespace
}  // namespace hostile
