// Connection and ClientStream operations: request, fetch, reauth, ping, close, subscribe and streams. Each
// hops onto the connection's strand and drives the EngineLink there.
#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/net/impl/engine_fetch.hpp>
#include <cyxp2p/net/impl/engine_link.hpp>

namespace cyxp2p::net {

namespace asio = detail::asio;

Connection::Connection(std::shared_ptr<detail::EngineLink> link) : link_(std::move(link)) {}
Connection::~Connection() {
    auto link = link_;
    asio::post(link->get_executor(),
               [link] { link->close(link->default_drain(), [](std::error_code, std::size_t) {}); });
}

const protocol::HandshakeInfo& Connection::handshake() const {
    return link_->info();
}
protocol::FlowStats Connection::flow_stats() const {
    return link_->flow_stats();
}
const TlsInfo& Connection::tls() const {
    return link_->tls;
}
bool Connection::open() const {
    return link_->is_open();
}
asio::any_io_executor Connection::get_executor() const {
    return link_->get_executor();
}
void Connection::check_deadlines() {
    asio::post(link_->get_executor(), [link = link_] { link->check_deadlines(); });
}

void Connection::start_request(std::string method, std::vector<std::uint8_t> body, RequestDone done) {
    start_call(std::move(method), std::move(body),
               [done = std::move(done)](std::error_code ec, Reply r) { done(ec, std::move(r.body)); });
}

void Connection::start_call(std::string method, std::vector<std::uint8_t> body, CallDone done) {
    asio::post(link_->get_executor(), [link = link_, method = std::move(method), body = std::move(body),
                                       done = std::move(done)]() mutable {
        struct Call {
            std::optional<std::vector<std::uint8_t>> reply;
            std::shared_ptr<detail::StreamState> state;
            std::uint32_t id = 0;
            bool finished = false;
        };
        auto call = std::make_shared<Call>();
        auto complete = [done, call](std::error_code ec, protocol::Status st) {
            if (call->finished) return;
            call->finished = true;
            if (ec && st.ok()) {
                st.code = protocol::errc::closed;
                st.message = ec.message();
            }
            Reply r{.body = ec ? std::vector<std::uint8_t>{} : std::move(*call->reply),
                    .status = std::move(st)};
            done(ec, std::move(r));
        };
        detail::StreamOp op;
        op.on_message = [call, link, complete](std::vector<std::uint8_t> m) {
            if (call->reply.has_value()) {  // a unary call has exactly one response
                link->reset(call->id, protocol::errc::bad_message, "more than one response message");
                complete(make_error_code(protocol::errc::bad_message),
                         {.code = protocol::errc::bad_message, .message = "more than one response message"});
                return;
            }
            call->reply = std::move(m);
        };
        op.on_done = [call, complete](std::error_code ec) {
            protocol::Status st = ec && call->state ? call->state->status() : protocol::Status{};
            if (!ec && !call->reply.has_value()) {
                ec = make_error_code(protocol::errc::bad_message);
                st = {.code = protocol::errc::bad_message,
                      .message = "the node ended the call without a response"};
            }
            complete(ec, std::move(st));
        };
        std::error_code ec;
        call->id = link->open(method, body, true, std::move(op), ec, &call->state);
        if (ec) complete(ec, {});
    });
}

void Connection::start_fetch(std::string cid, std::filesystem::path dest, FetchProgress progress,
                             FetchDone done) {
    // content::Download owns the transfer: partial file, verifier and resume state (docs/content.md); it
    // lives on the fetch's writer thread, the strand only decodes (docs/net.md, "Receive path"). A failed
    // fetch keeps what verified; fetching again to the same path resumes (docs/tools.md).
    asio::post(link_->get_executor(), [link = link_, cid = std::move(cid), dest = std::move(dest),
                                       progress = std::move(progress), done = std::move(done)]() mutable {
        detail::start_engine_fetch(std::move(link), std::move(cid), std::move(dest), std::move(progress),
                                   std::move(done));
    });
}

void Connection::start_reauth(std::string token, ExpiryDone done) {
    asio::post(link_->get_executor(),
               [link = link_, token = std::move(token), done = std::move(done)]() mutable {
                   if (auto ec = link->reauth(std::move(token), done)) done(ec, 0);
               });
}

void Connection::start_ping(PingDone done) {
    asio::post(link_->get_executor(),
               [link = link_, done = std::move(done)]() mutable { link->ping(std::move(done)); });
}

void Connection::start_close(std::optional<std::chrono::milliseconds> drain, CloseDone done) {
    asio::post(link_->get_executor(), [link = link_, drain, done = std::move(done)]() mutable {
        link->close(drain.value_or(link->default_drain()), std::move(done));
    });
}

void Connection::subscribe(std::string method, std::vector<std::uint8_t> request,
                           std::function<void(std::vector<std::uint8_t>)> on_message,
                           std::function<void(std::error_code)> done) {
    asio::post(link_->get_executor(), [link = link_, method = std::move(method), request = std::move(request),
                                       on_message = std::move(on_message), done = std::move(done)]() mutable {
        detail::StreamOp op{std::move(on_message), done, nullptr};
        std::error_code ec;
        link->open(method, request, true, std::move(op), ec);
        if (ec && done) done(ec);
    });
}

void Connection::start_open_stream(std::string method,
                                   std::function<void(std::vector<std::uint8_t>)> on_message,
                                   std::function<void(std::error_code)> done, OpenDone opened,
                                   std::optional<std::vector<std::uint8_t>> request) {
    asio::post(link_->get_executor(),
               [link = link_, method = std::move(method), on_message = std::move(on_message),
                done = std::move(done), opened = std::move(opened), request = std::move(request)]() mutable {
                   // Completes when the node answered the OPEN (OPEN_ACK or its refusal), not when it was
                   // sent.
                   auto slot = std::make_shared<std::shared_ptr<detail::StreamState>>();
                   detail::StreamOp op{std::move(on_message), std::move(done), nullptr};
                   op.on_accepted = [link, slot, opened](std::error_code ec) {
                       auto& st = *slot;
                       opened(ec, st ? std::make_shared<ClientStream>(link, st->id, st) : nullptr);
                   };
                   std::error_code ec;
                   const bool subscribe = request.has_value();
                   const auto empty = std::vector<std::uint8_t>{};
                   link->open(method, subscribe ? *request : empty, subscribe, std::move(op), ec, slot.get());
                   if (ec) opened(ec, nullptr);
               });
}

asio::any_io_executor ClientStream::link_executor() const {
    return link_->get_executor();
}

void ClientStream::start_send(std::vector<std::uint8_t> message, std::function<void(std::error_code)> done) {
    asio::post(link_->get_executor(),
               [link = link_, id = id_, message = std::move(message), done = std::move(done)]() mutable {
                   if (auto ec = link->send(id, message)) return done(ec);
                   link->when_writable(id, std::move(done));
               });
}

void ClientStream::start_read(ReadDone done) {
    asio::post(link_->get_executor(), [link = link_, state = state_, done = std::move(done)]() mutable {
        if (!state) return done(make_error_code(errc::not_connected), {});
        link->read(state, std::move(done));
    });
}

void ClientStream::start_finish(FinishDone done) {
    asio::post(link_->get_executor(), [link = link_, state = state_, done = std::move(done)]() mutable {
        if (!state) return done(make_error_code(errc::not_connected), {});
        if (!state->over) link->finish_stream(state->id);
        link->when_closed(state, std::move(done));
    });
}

void ClientStream::start_cancel(std::function<void(std::error_code)> done) {
    asio::post(link_->get_executor(), [link = link_, id = id_, done = std::move(done)]() mutable {
        link->cancel(id);
        done({});
    });
}

protocol::Status ClientStream::status() const {
    return state_ ? state_->status() : protocol::Status{};
}

void ClientStream::finish() {
    asio::post(link_->get_executor(), [link = link_, id = id_] { link->finish_stream(id); });
}

void ClientStream::cancel() {
    asio::post(link_->get_executor(), [link = link_, id = id_] {
        link->reset(id, protocol::errc::cancelled, "cancelled by the engine");
    });
}

}  // namespace cyxp2p::net
