// The stream handler API: ServerStream operations, Responder, and Node::handle / handle_unary that register
// methods.
#include <stdexcept>

#include <cyxp2p/auth/scope.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/impl/node_link.hpp>
#include <cyxp2p/net/impl/server_stream.hpp>

namespace cyxp2p::net {

namespace asio = detail::asio;

const char* to_string(StreamEnd::Reason r) noexcept {
    switch (r) {
        case StreamEnd::Reason::finished:
            return "finished";
        case StreamEnd::Reason::reset_by_engine:
            return "reset_by_engine";
        case StreamEnd::Reason::failed:
            return "failed";
        case StreamEnd::Reason::session_closed:
            return "session_closed";
        case StreamEnd::Reason::node_stopping:
            return "node_stopping";
    }
    return "unknown";
}

bool ServerStreamImpl::queue(std::function<void(ServerStreamImpl&)> op) {
    auto l = link_.lock();
    if (!l || link_gone_->load(std::memory_order_acquire)) return false;
    // One FIFO per connection (its io_context has one thread): operations queued by one thread run in the
    // order they were called. Dropped with the connection: on_close has told the handler.
    asio::post(executor_, [weak = link_, self = shared_from_this(), op = std::move(op)] {
        if (auto alive = weak.lock(); alive && !alive->finished()) op(*self);
    });
    return true;
}

void ServerStreamImpl::note_pending() {
    auto l = link_.lock();
    pending_seen_.store(l && l->session() ? l->session()->pending_bytes(id_) : 0, std::memory_order_relaxed);
}

std::error_code ServerStreamImpl::send_now(std::span<const std::uint8_t> message) {
    auto l = link_.lock();
    if (!l || closed() || l->session() == nullptr) return make_error_code(errc::not_connected);
    auto ec = l->session()->send_message(id_, message);
    l->account_queue();
    l->kick();
    note_pending();
    return ec;
}

std::error_code ServerStreamImpl::send(std::span<const std::uint8_t> message) {
    if (closed()) return make_error_code(errc::not_connected);
    if (on_connection_thread()) return send_now(message);
    queued_elsewhere_.fetch_add(message.size(), std::memory_order_relaxed);
    const bool queued = queue([m = std::vector<std::uint8_t>(message.begin(), message.end())](auto& s) {
        s.queued_elsewhere_.fetch_sub(m.size(), std::memory_order_relaxed);
        if (s.closed()) return;  // on_close already told the producer
        if (auto ec = s.send_now(m)) {
            s.fail_now({.code = protocol::errc::internal,
                        .message = "a message queued on " + s.method() +
                                   " from another thread failed: " + ec.message()});
        }
    });
    if (!queued) {
        queued_elsewhere_.fetch_sub(message.size(), std::memory_order_relaxed);
        return make_error_code(errc::not_connected);
    }
    return {};
}

std::error_code ServerStreamImpl::finish_now() {
    auto l = link_.lock();
    if (!l || closed() || l->session() == nullptr) return make_error_code(errc::not_connected);
    auto ec = l->session()->finish(id_);
    writable_fn_ = nullptr;
    l->kick();
    return ec;
}

std::error_code ServerStreamImpl::finish() {
    if (closed()) return make_error_code(errc::not_connected);
    if (on_connection_thread()) return finish_now();
    const bool queued = queue([](auto& s) {
        if (s.closed()) return;
        if (auto ec = s.finish_now()) {
            s.fail_now(
                {.code = protocol::errc::internal,
                 .message = "finish() on " + s.method() + " from another thread failed: " + ec.message()});
        }
    });
    return queued ? std::error_code{} : make_error_code(errc::not_connected);
}

std::error_code ServerStreamImpl::fail_now(const protocol::Status& status) {
    auto l = link_.lock();
    if (!l || closed() || l->session() == nullptr) return make_error_code(errc::not_connected);
    if (!failed_with_) failed_with_ = status;
    mark_closed();  // at once: nothing more goes out, a second fail() is refused; on_close follows
    l->session()->reset(id_, status);
    l->account_queue();
    l->kick();
    return {};
}

std::error_code ServerStreamImpl::fail(const protocol::Status& status) {
    if (closed()) return make_error_code(errc::not_connected);
    if (on_connection_thread()) return fail_now(status);
    const bool queued = queue([status](auto& s) { (void)s.fail_now(status); });
    return queued ? std::error_code{} : make_error_code(errc::not_connected);
}

std::size_t ServerStreamImpl::pending_bytes() const {
    if (!on_connection_thread()) {
        return pending_seen_.load(std::memory_order_relaxed) +
               queued_elsewhere_.load(std::memory_order_relaxed);
    }
    auto l = link_.lock();
    return l && l->session() ? l->session()->pending_bytes(id_) : 0;
}

bool ServerStreamImpl::post(std::function<void()> fn) {
    return queue([fn = std::move(fn)](ServerStreamImpl& s) {
        auto l = s.link_.lock();
        if (l) l->call_handler(s.shared_from_this(), "a function given to post()", fn);
    });
}

void ServerStreamImpl::on_writable(std::function<void()> fn) {
    auto arm = [](ServerStreamImpl& s, std::function<void()> f) {
        if (s.closed()) return;
        s.writable_fn_ = std::move(f);
        if (auto l = s.link_.lock()) {
            l->wants_writable(s.id_);
            l->kick();
        }
    };
    if (on_connection_thread()) return arm(*this, std::move(fn));
    queue([arm, fn = std::move(fn)](ServerStreamImpl& s) mutable { arm(s, std::move(fn)); });
}

void ServerStreamImpl::run_writable() {
    if (!writable_fn_ || closed()) return;
    auto fn = writable_fn_;  // the callback may replace or clear itself
    if (auto l = link_.lock()) l->call_handler(shared_from_this(), "on_writable", fn);
    note_pending();
}

// One unary call's answer, shared by the copies of its Responder.
class Responder::Call {
  public:
    explicit Call(StreamPtr s) : stream(std::move(s)) {}
    ~Call() {
        if (!answered.exchange(true)) {
            (void)stream->fail(protocol::errc::internal,
                               "handler for " + stream->method() + " dropped its responder");
        }
    }
    Call(const Call&) = delete;
    Call& operator=(const Call&) = delete;
    StreamPtr stream;
    std::atomic<bool> answered{false};
};

std::error_code Responder::reply(std::vector<std::uint8_t> body) const {
    if (call_->answered.exchange(true)) return make_error_code(errc::already_answered);
    if (auto ec = call_->stream->send(body)) return ec;
    return call_->stream->finish();
}

std::error_code Responder::fail(const protocol::Status& status) const {
    if (call_->answered.exchange(true)) return make_error_code(errc::already_answered);
    return call_->stream->fail(status);
}

bool Responder::answered() const {
    return call_->answered.load();
}

const StreamPtr& Responder::stream() const {
    return call_->stream;
}

void Node::handle(std::string method, std::string scope, MethodHandlers handlers) {
    // The protocol's own methods keep the scope docs/auth.md gives them: tokens are minted against that
    // table, so a node that asked for another scope would let the wrong tokens in (or none).
    if (const auto reserved = auth::required_scope(method); reserved && *reserved != scope) {
        throw std::invalid_argument("Node::handle(\"" + method + "\"): a reserved method needs scope " +
                                    std::string(*reserved) + " (auth::required_scope), not \"" + scope +
                                    "\"");
    }
    impl_->methods[std::move(method)] = MethodEntry{std::move(scope), std::move(handlers)};
}

namespace {

// A unary call's one request message, kept in the stream's state until the engine finishes sending.
struct UnaryBody {
    std::vector<std::uint8_t> bytes;
};

// Collects the request; `answer` runs on END_STREAM with the Request.
MethodHandlers unary(std::function<void(const StreamPtr&, Request)> answer) {
    MethodHandlers h;
    h.on_message = [](const StreamPtr& s, std::vector<std::uint8_t> message) {
        if (s->has_state()) {
            (void)s->fail(protocol::errc::bad_message, "a unary method takes exactly one request message");
            return;
        }
        s->emplace_state<UnaryBody>(UnaryBody{std::move(message)});
    };
    h.on_end = [answer = std::move(answer)](const StreamPtr& s) {
        auto* body = s->state_if<UnaryBody>();
        if (body == nullptr) {
            (void)s->fail(protocol::errc::bad_message, "no request message");
            return;
        }
        answer(s, Request{s->method(), std::move(body->bytes), s->shared_claims(), s->peer()});
    };
    return h;
}

}  // namespace

void Node::handle_unary(std::string method, std::string scope, UnaryHandler handler) {
    auto h = unary([handler = std::move(handler)](const StreamPtr& s, Request r) {
        std::error_code ec;
        auto reply = handler(r, ec);
        if (ec) {
            // A protocol code is the handler's answer as it stands; anything else is the handler's own
            // failure, told with its message.
            const bool ours = ec.category() == protocol::category();
            (void)s->fail(
                {.code = ours ? static_cast<protocol::errc>(ec.value()) : protocol::errc::handler_failed,
                 .message = ec.message()});
            return;
        }
        if (!s->send(reply)) (void)s->finish();
    });
    handle(std::move(method), std::move(scope), std::move(h));
}

void Node::handle_unary(std::string method, std::string scope, AsyncUnaryHandler handler) {
    auto h = unary([handler = std::move(handler)](const StreamPtr& s, Request r) {
        auto call = std::make_shared<Responder::Call>(s);
        try {
            handler(std::move(r), Responder(call));
        } catch (...) {
            // The exception is the answer (the link's guard fails the call with its what()), not the
            // responder the unwinding dropped.
            call->answered = true;
            throw;
        }
    });
    handle(std::move(method), std::move(scope), std::move(h));
}

}  // namespace cyxp2p::net
