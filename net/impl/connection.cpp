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
    asio::post(link->get_executor(), [link] { link->close([](std::error_code) {}); });
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
    asio::post(link_->get_executor(), [link = link_, method = std::move(method), body = std::move(body),
                                       done = std::move(done)]() mutable {
        auto reply = std::make_shared<std::optional<std::vector<std::uint8_t>>>();
        auto finished = std::make_shared<bool>(false);
        auto complete = [done, finished](std::error_code ec, std::vector<std::uint8_t> r) {
            if (*finished) return;
            *finished = true;
            done(ec, std::move(r));
        };
        detail::StreamOp op;
        std::uint32_t* id_slot = new std::uint32_t(0);
        std::shared_ptr<std::uint32_t> id(id_slot);
        op.on_message = [reply, link, id, complete](std::vector<std::uint8_t> m) {
            if (reply->has_value()) {  // a unary call has exactly one response
                link->reset(*id, protocol::errc::bad_message, "more than one response message");
                complete(make_error_code(protocol::errc::bad_message), {});
                return;
            }
            *reply = std::move(m);
        };
        op.on_done = [reply, complete](std::error_code ec) {
            if (!ec && !reply->has_value()) ec = make_error_code(protocol::errc::bad_message);
            complete(ec, ec ? std::vector<std::uint8_t>{} : std::move(**reply));
        };
        std::error_code ec;
        *id = link->open(method, body, true, std::move(op), ec);
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

void Connection::start_close(CloseDone done) {
    asio::post(link_->get_executor(),
               [link = link_, done = std::move(done)]() mutable { link->close(std::move(done)); });
}

void Connection::subscribe(std::string method, std::vector<std::uint8_t> request,
                           std::function<void(std::vector<std::uint8_t>)> on_message,
                           std::function<void(std::error_code)> done) {
    asio::post(link_->get_executor(), [link = link_, method = std::move(method), request = std::move(request),
                                       on_message = std::move(on_message), done = std::move(done)]() mutable {
        detail::StreamOp op{std::move(on_message), done};
        std::error_code ec;
        link->open(method, request, true, std::move(op), ec);
        if (ec && done) done(ec);
    });
}

void Connection::start_open_stream(std::string method,
                                   std::function<void(std::vector<std::uint8_t>)> on_message,
                                   std::function<void(std::error_code)> done, OpenDone opened) {
    asio::post(link_->get_executor(),
               [link = link_, method = std::move(method), on_message = std::move(on_message),
                done = std::move(done), opened = std::move(opened)]() mutable {
                   detail::StreamOp op{std::move(on_message), std::move(done)};
                   std::error_code ec;
                   const auto id = link->open(method, {}, false, std::move(op), ec);
                   if (ec) return opened(ec, nullptr);
                   opened({}, std::make_shared<ClientStream>(link, id));
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

void ClientStream::finish() {
    asio::post(link_->get_executor(), [link = link_, id = id_] { link->finish_stream(id); });
}

void ClientStream::cancel() {
    asio::post(link_->get_executor(), [link = link_, id = id_] {
        link->reset(id, protocol::errc::cancelled, "cancelled by the engine");
    });
}

}  // namespace cyxp2p::net
