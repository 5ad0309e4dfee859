// The stream handler API: ServerStream operations, and Node::handle / handle_unary that register methods.
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/impl/node_link.hpp>
#include <cyxp2p/net/impl/server_stream.hpp>

namespace cyxp2p::net {

namespace asio = detail::asio;

std::error_code ServerStreamImpl::send(std::span<const std::uint8_t> message) {
    auto l = link_.lock();
    if (!l || closed_ || l->session() == nullptr) return make_error_code(errc::not_connected);
    auto ec = l->session()->send_message(id_, message);
    l->account_queue();
    l->kick();
    return ec;
}

std::error_code ServerStreamImpl::finish() {
    auto l = link_.lock();
    if (!l || closed_ || l->session() == nullptr) return make_error_code(errc::not_connected);
    auto ec = l->session()->finish(id_);
    writable_fn_ = nullptr;
    l->kick();
    return ec;
}

void ServerStreamImpl::fail(protocol::errc code, std::string_view message) {
    auto l = link_.lock();
    if (!l || closed_ || l->session() == nullptr) return;
    writable_fn_ = nullptr;
    l->session()->reset(id_, code, message);
    l->account_queue();
    l->kick();
}

std::size_t ServerStreamImpl::pending_bytes() const {
    auto l = link_.lock();
    return l && l->session() ? l->session()->pending_bytes(id_) : 0;
}

void ServerStreamImpl::post(std::function<void()> fn) {
    auto l = link_.lock();
    if (!l) return;
    asio::post(l->get_executor(), [weak = link_, fn = std::move(fn)] {
        if (auto alive = weak.lock(); alive && !alive->finished()) fn();
    });
}

void ServerStreamImpl::on_writable(std::function<void()> fn) {
    writable_fn_ = std::move(fn);
    if (auto l = link_.lock()) {
        l->wants_writable(id_);
        l->kick();
    }
}

void Node::handle(std::string method, std::string scope, MethodHandlers handlers) {
    impl_->methods[std::move(method)] = MethodEntry{std::move(scope), std::move(handlers)};
}

void Node::handle_unary(std::string method, std::string scope, UnaryHandler handler) {
    MethodHandlers h;
    h.on_message = [](const StreamPtr& s, std::vector<std::uint8_t> message) {
        if (s->state())
            return s->fail(protocol::errc::bad_message, "a unary method takes exactly one request message");
        s->state() = std::make_shared<std::vector<std::uint8_t>>(std::move(message));
    };
    h.on_end = [handler = std::move(handler)](const StreamPtr& s) {
        auto body = std::static_pointer_cast<std::vector<std::uint8_t>>(s->state());
        if (!body) return s->fail(protocol::errc::bad_message, "no request message");
        Request r{s->method(), std::move(*body), &s->claims(), s->peer()};
        std::error_code ec;
        auto reply = handler(r, ec);
        if (ec) return s->fail(protocol::errc::handler_failed, ec.message());
        s->send(reply);
        s->finish();
    };
    handle(std::move(method), std::move(scope), std::move(h));
}

}  // namespace cyxp2p::net
