// The node's handler API (docs/net.md, "Node"): one end notification per stream whatever the path, handler
// exceptions that reset only their stream, errors with every detail on the wire, asynchronous unary
// answers, and a stop whose time is bounded by its drain and shutdown_timeout.
#include "hostile_engine.hpp"
#include "node_ends.hpp"

namespace hostile {
namespace {

class NodeApi : public HostileEngine {
  protected:
    // A stream on a raw connection: OPEN `method` on `id`, then one DATA message (ending our side if
    // `end`).
    void open_with(raw::Tls& t, std::uint32_t id, const std::string& method, bool end) {
        open(t, id, method, nonce(), now_ms());
        t.frame(FrameType::data, end ? protocol::flags::end_stream : 0, id,
                raw::message(protocol::encode(protocol::JobSubmit{"j", {}})));
    }
    // The first ERROR the node sends on stream `id` (skipping other frames).
    static std::optional<wire::Error> stream_error(raw::Tls& t, std::uint32_t id) {
        const auto deadline = raw::in(5s);
        while (auto f = t.next(deadline)) {
            if (f->header.type == FrameType::error && f->header.stream_id == id) return raw::parse_error(*f);
        }
        return std::nullopt;
    }
    // Stops the node and checks every stream that ended got exactly one on_close and nothing after it.
    void expect_each_ended_once(std::size_t streams) {
        node_->stop();
        const auto counts = ends_.counts();
        EXPECT_EQ(counts.size(), streams);
        for (const auto& [key, n] : counts) EXPECT_EQ(n, 1) << key;
        EXPECT_EQ(ends_.late_callbacks(), 0);
    }

    // A raw peer never answers close_notify: the node waits shutdown_timeout for it at stop().
    static void quick_close(net::NodeOptions& o) { o.shutdown_timeout = 500ms; }

    StreamEnds ends_;
};

// The engine finishes, the handler answers and finishes: finished, status ok.
TEST_F(NodeApi, StreamFinishedBothWaysEndsOnce) {
    extra_handlers_ = [this](net::Node& n) {
        net::MethodHandlers h;
        h.on_end = [](const net::StreamPtr& s) {
            EXPECT_FALSE(s->send(protocol::encode(protocol::Outcome{true, "", "done"})));
            EXPECT_FALSE(s->finish());
        };
        n.handle("job.stream", "job:execute", ends_.counted(std::move(h)));
    };
    start_node(quick_close);
    connect_honest();
    auto r = honest_->async_request("job.stream", protocol::encode(protocol::JobSubmit{"j", {}}),
                                    boost::asio::use_future);
    ASSERT_EQ(r.wait_for(10s), std::future_status::ready);
    EXPECT_FALSE(std::get<0>(r.get()));
    auto end = ends_.wait_for_ends(1);
    ASSERT_TRUE(end);
    EXPECT_EQ(end->reason, net::StreamEnd::Reason::finished);
    EXPECT_TRUE(end->status.ok());
    expect_each_ended_once(1);
}

// The engine sends ERROR on the stream: reset_by_engine with its code and message.
TEST_F(NodeApi, StreamResetByTheEngineEndsOnce) {
    extra_handlers_ = [this](net::Node& n) { n.handle("job.stream", "job:execute", ends_.counted({})); };
    start_node(quick_close);
    auto t = session();
    ASSERT_TRUE(t);
    open_with(*t, 1, "job.stream", false);
    wire::Error e;
    e.set_code(static_cast<std::uint32_t>(errc::cancelled));
    e.set_message("the user pressed stop");
    t->control(FrameType::error, 1, e);
    ASSERT_TRUE(t->flush(raw::in(5s)));
    auto end = ends_.wait_for_ends(1);
    ASSERT_TRUE(end);
    EXPECT_EQ(end->reason, net::StreamEnd::Reason::reset_by_engine);
    EXPECT_EQ(end->status.code, errc::cancelled);
    EXPECT_EQ(end->status.message, "the user pressed stop");
    expect_alive(*t);  // one stream's reset, not the session's
    expect_each_ended_once(1);
}

// ServerStream::fail with a whole Status: every field reaches the engine, on_close reports it (failed).
TEST_F(NodeApi, FailSendsEveryFieldOfTheStatusAndEndsOnce) {
    const protocol::Status busy{.code = errc::unavailable,
                                .message = "every GPU is busy: try again in 1.5 s",
                                .retry_after = 1500ms,
                                .detail = "gpu_busy"};
    extra_handlers_ = [this, busy](net::Node& n) {
        net::MethodHandlers h;
        h.on_message = [busy](const net::StreamPtr& s, std::vector<std::uint8_t>) {
            EXPECT_FALSE(s->fail(busy));
            EXPECT_EQ(s->fail(errc::internal, "twice"), net::errc::not_connected);  // closed by the first
        };
        n.handle("job.stream", "job:execute", ends_.counted(std::move(h)));
    };
    start_node(quick_close);
    auto t = session();
    ASSERT_TRUE(t);
    open_with(*t, 1, "job.stream", false);
    auto e = stream_error(*t, 1);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), static_cast<std::uint32_t>(errc::unavailable));
    EXPECT_EQ(e->message(), busy.message);
    EXPECT_EQ(e->retry_after_ms(), 1500U);
    EXPECT_EQ(e->detail(), "gpu_busy");
    auto end = ends_.wait_for_ends(1);
    ASSERT_TRUE(end);
    EXPECT_EQ(end->reason, net::StreamEnd::Reason::failed);
    EXPECT_EQ(end->status.code, errc::unavailable);
    EXPECT_EQ(end->status.detail, "gpu_busy");
    expect_each_ended_once(1);
}

// A message the engine could not accept (control characters, too long) is made fit, not dropped.
TEST_F(NodeApi, FailTextIsMadeFitForTheWire) {
    extra_handlers_ = [](net::Node& n) {
        net::MethodHandlers h;
        h.on_message = [](const net::StreamPtr& s, std::vector<std::uint8_t>) {
            (void)s->fail({.code = errc::bad_message,
                           .message = "line 1\nline 2" + std::string(5000, 'x'),
                           .detail = std::string(300, 'd')});
        };
        n.handle("job.stream", "job:execute", std::move(h));
    };
    start_node(quick_close);
    auto t = session();
    ASSERT_TRUE(t);
    open_with(*t, 1, "job.stream", false);
    auto e = stream_error(*t, 1);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->message().size(), protocol::TextLimits{}.error_message);
    EXPECT_EQ(e->message().substr(0, 13), "line 1 line 2");
    EXPECT_EQ(e->detail().size(), protocol::TextLimits{}.error_detail);
}

// The connection drops, or the engine closes the session with an ERROR on stream 0: session_closed.
TEST_F(NodeApi, SessionEndingUnderAStreamEndsItOnce) {
    std::mutex m;
    std::vector<net::StreamPtr> held;
    extra_handlers_ = [&](net::Node& n) {
        net::MethodHandlers h;
        h.on_open = [&](const net::StreamPtr& s) {
            std::lock_guard lock(m);
            held.push_back(s);
        };
        n.handle("job.stream", "job:execute", ends_.counted(std::move(h)));
    };
    start_node(quick_close);
    {
        auto t = session();
        ASSERT_TRUE(t);
        open_with(*t, 1, "job.stream", false);
        ASSERT_TRUE(t->flush(raw::in(5s)));
        eventually([&] { return node_->metrics().streams_opened.load() == 1; }, "stream 1 opened");
    }  // the socket closes without close_notify
    auto end = ends_.wait_for_ends(1);
    ASSERT_TRUE(end);
    EXPECT_EQ(end->reason, net::StreamEnd::Reason::session_closed);
    EXPECT_EQ(end->status.code, errc::closed) << end->status.message;
    {
        auto t = session();
        ASSERT_TRUE(t);
        open_with(*t, 1, "job.stream", false);
        wire::Error e;
        e.set_code(static_cast<std::uint32_t>(errc::going_away));
        e.set_message("engine shutting down");
        t->control(FrameType::error, 0, e);
        ASSERT_TRUE(t->flush(raw::in(5s)));
        end = ends_.wait_for_ends(2);
        ASSERT_TRUE(end);
        EXPECT_EQ(end->reason, net::StreamEnd::Reason::session_closed);
        EXPECT_EQ(end->status.code, errc::going_away) << end->status.message;
    }
    // The connection is gone: a producer learns it from post() and send().
    std::lock_guard lock(m);
    ASSERT_EQ(held.size(), 2U);
    eventually([&] { return !held[0]->post([] {}); }, "post() false once the connection is gone");
    EXPECT_EQ(held[0]->send(protocol::encode(protocol::Outcome{})), net::errc::not_connected);
    expect_each_ended_once(2);
}

// A handler that never finishes: stop(300 ms) with shutdown_timeout 500 ms returns well within 3 s, the
// handler was told of the GOAWAY, and its stream ends with node_stopping.
TEST_F(NodeApi, StopIsBoundedAndEndsStreamsWithNodeStopping) {
    net::StreamPtr held;
    extra_handlers_ = [&](net::Node& n) {
        net::MethodHandlers h;
        h.on_open = [&](const net::StreamPtr& s) { held = s; };
        n.handle("job.stream", "job:execute", ends_.counted(std::move(h)));
    };
    start_node([](net::NodeOptions& o) {
        o.shutdown_timeout = 500ms;
        o.session.drain_timeout = 30s;  // stop(drain) bounds it, not the session's own knob
    });
    auto t = session();
    ASSERT_TRUE(t);
    open_with(*t, 1, "job.stream", false);
    ASSERT_TRUE(t->flush(raw::in(5s)));
    eventually([&] { return node_->metrics().streams_opened.load() == 1; }, "stream opened");
    const auto started = std::chrono::steady_clock::now();
    node_->stop(300ms);
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_LT(took, 3s) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
    auto end = ends_.wait_for_ends(1);
    ASSERT_TRUE(end);
    EXPECT_EQ(end->reason, net::StreamEnd::Reason::node_stopping);
    ASSERT_TRUE(held);
    EXPECT_EQ(ends_.going_away(StreamEnds::key(*held)), 1);
    EXPECT_FALSE(held->post([] {}));
    EXPECT_TRUE(held->closed());
    expect_each_ended_once(1);
}

// Two streams on one connection; the handler of one throws: only that stream is reset (internal, naming
// the method and the exception), audited and counted; the other completes.
TEST_F(NodeApi, ThrowingHandlerResetsOnlyItsStream) {
    extra_handlers_ = [this](net::Node& n) {
        net::MethodHandlers bad;
        bad.on_message = [](const net::StreamPtr&, std::vector<std::uint8_t>) {
            throw std::runtime_error("CUDA out of memory");
        };
        n.handle("job.throw", "job:execute", ends_.counted(std::move(bad)));
        net::MethodHandlers good;
        good.on_end = [](const net::StreamPtr& s) {
            (void)s->send(protocol::encode(protocol::Outcome{true, "", "fine"}));
            (void)s->finish();
        };
        n.handle("job.stream", "job:execute", ends_.counted(std::move(good)));
    };
    start_node(quick_close);
    auto t = session();
    ASSERT_TRUE(t);
    open_with(*t, 1, "job.throw", false);
    open_with(*t, 3, "job.stream", true);
    bool got_error = false, got_reply = false, got_end = false;
    const auto deadline = raw::in(5s);
    while (!(got_error && got_end)) {
        auto f = t->next(deadline);
        ASSERT_TRUE(f) << "error " << got_error << " reply " << got_reply << " end " << got_end;
        if (f->header.type == FrameType::error) {
            ASSERT_EQ(f->header.stream_id, 1U);
            const auto e = raw::parse_error(*f);
            EXPECT_EQ(e.code(), static_cast<std::uint32_t>(errc::internal));
            EXPECT_NE(e.message().find("job.throw"), std::string::npos) << e.message();
            EXPECT_NE(e.message().find("CUDA out of memory"), std::string::npos) << e.message();
            got_error = true;
        } else if (f->header.type == FrameType::data && f->header.stream_id == 3) {
            if (!f->payload.empty()) got_reply = true;
            if (f->header.flags & protocol::flags::end_stream) got_end = true;
        }
    }
    EXPECT_TRUE(got_reply);
    expect_alive(*t);
    EXPECT_EQ(node_->metrics().handler_exceptions.load(), 1U);
    EXPECT_EQ(audit_->count(Kind::handler_exception, "on_message"), 1U);
    EXPECT_NE(node_->metrics().prometheus().find("cyxp2p_node_handler_exceptions_total 1"),
              std::string::npos);
    // The honest engine sees internal on a throwing call, and its next call works.
    connect_honest();
    auto r = honest_->async_request("job.throw", protocol::encode(protocol::JobSubmit{"j", {}}),
                                    boost::asio::use_future);
    ASSERT_EQ(r.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(std::get<0>(r.get()), errc::internal);
    expect_honest_works();
    t.reset();
    // Raw streams 1 and 3, and the honest engine's job.throw (job.submit is not counted).
    eventually([&] { return ends_.ended() == 3; }, "three streams ended");
    expect_each_ended_once(3);
}

// The synchronous unary handler's error_code: a protocol code is sent as is, anything else as
// handler_failed.
TEST_F(NodeApi, UnaryHandlerErrorCodesReachTheEngine) {
    extra_handlers_ = [](net::Node& n) {
        n.handle_unary("job.forbid", "job:execute", [](const net::Request&, std::error_code& ec) {
            ec = errc::forbidden;
            return std::vector<std::uint8_t>{};
        });
        n.handle_unary("job.oops", "job:execute", [](const net::Request&, std::error_code& ec) {
            ec = std::make_error_code(std::errc::no_space_on_device);
            return std::vector<std::uint8_t>{};
        });
    };
    start_node(quick_close);
    connect_honest();
    const std::pair<const char*, errc> calls[] = {{"job.forbid", errc::forbidden},
                                                  {"job.oops", errc::handler_failed}};
    for (auto [method, code] : calls) {
        auto r = honest_->async_request(method, protocol::encode(protocol::JobSubmit{"j", {}}),
                                        boost::asio::use_future);
        ASSERT_EQ(r.wait_for(10s), std::future_status::ready);
        EXPECT_EQ(std::get<0>(r.get()), code) << method;
    }
}

// Responder: fail(Status) arrives whole; a second answer is refused; a dropped responder fails the call.
TEST_F(NodeApi, ResponderAnswersOnceAndADroppedOneFailsTheCall) {
    std::promise<std::error_code> second;
    extra_handlers_ = [&](net::Node& n) {
        n.handle_unary("job.later", "job:execute", [&](net::Request r, net::Responder answer) {
            EXPECT_EQ(r.claims->subject, "user-e");
            EXPECT_FALSE(answer.fail({.code = errc::rate_limited,
                                      .message = "too many jobs for this user",
                                      .retry_after = 2s,
                                      .detail = "jobs_per_user"}));
            EXPECT_TRUE(answer.answered());
            second.set_value(answer.reply({}));
        });
        n.handle_unary("job.drop", "job:execute", [](net::Request, net::Responder) {});
    };
    start_node(quick_close);
    auto t = session();
    ASSERT_TRUE(t);
    open_with(*t, 1, "job.later", true);
    auto e = stream_error(*t, 1);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), static_cast<std::uint32_t>(errc::rate_limited));
    EXPECT_EQ(e->message(), "too many jobs for this user");
    EXPECT_EQ(e->retry_after_ms(), 2000U);
    EXPECT_EQ(e->detail(), "jobs_per_user");
    auto f = second.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(f.get(), net::errc::already_answered);
    open_with(*t, 3, "job.drop", true);
    e = stream_error(*t, 3);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), static_cast<std::uint32_t>(errc::internal));
    EXPECT_EQ(e->message(), "handler for job.drop dropped its responder");
}

// Typed state: what emplace_state made is found by its type only.
TEST_F(NodeApi, StreamStateIsTyped) {
    std::promise<bool> checked;
    extra_handlers_ = [&](net::Node& n) {
        net::MethodHandlers h;
        h.on_open = [](const net::StreamPtr& s) {
            EXPECT_FALSE(s->has_state());
            s->emplace_state<std::string>("a job being assembled");
        };
        h.on_message = [&](const net::StreamPtr& s, std::vector<std::uint8_t>) {
            const auto* text = s->state_if<std::string>();
            checked.set_value(text != nullptr && *text == "a job being assembled" &&
                              s->state_if<int>() == nullptr && s->shared_state<std::string>() != nullptr);
            (void)s->finish();
        };
        n.handle("job.stream", "job:execute", std::move(h));
    };
    start_node(quick_close);
    auto t = session();
    ASSERT_TRUE(t);
    open_with(*t, 1, "job.stream", true);
    ASSERT_TRUE(t->flush(raw::in(5s)));
    auto f = checked.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    EXPECT_TRUE(f.get());
}

// A reserved method registered with another scope than auth's table gives it is refused at once.
TEST_F(NodeApi, HandleRefusesAReservedMethodWithAnotherScope) {
    net::Node node(net::NodeOptions{.identity = *identity_, .keys = keys_});
    try {
        node.handle("job.submit", "metrics:read", {});
        FAIL() << "job.submit registered with metrics:read";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("job:execute"), std::string::npos) << e.what();
    }
    EXPECT_THROW(
        node.handle_unary("content.fetch", "job:execute",
                          [](const net::Request&, std::error_code&) { return std::vector<std::uint8_t>{}; }),
        std::invalid_argument);
    // The table's scope, and methods outside the table, are accepted.
    EXPECT_NO_THROW(node.handle("metrics.subscribe", "metrics:read", {}));
    EXPECT_NO_THROW(node.handle("train.stream", "job:execute", {}));
}

}  // namespace
}  // namespace hostile
