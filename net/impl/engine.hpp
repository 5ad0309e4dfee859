// Template bodies of engine.hpp: adapt each operation to any completion token.
#pragma once

namespace cyxp2p::net {
namespace detail {

// Starts an operation whose completion is a type-erased std::function, and delivers it to the token's
// handler on the handler's associated executor (Asio's rule), keeping that executor busy meanwhile.
template <class Sig, class Token, class Start>
auto initiate(asio::any_io_executor ex, Token&& token, Start start) {
    return asio::async_initiate<Token, Sig>(
        [ex, start = std::move(start)](auto handler) mutable {
            using Handler = decltype(handler);
            auto h = std::make_shared<Handler>(std::move(handler));
            // One guard shared by every copy of the completion (an operation may keep several, one per
            // way it can end): the first call releases the work, so copies left behind cannot keep the
            // io_context's run() from returning.
            auto work =
                std::make_shared<decltype(asio::make_work_guard(asio::get_associated_executor(*h, ex)))>(
                    asio::make_work_guard(asio::get_associated_executor(*h, ex)));
            start([h, work, ex](auto&&... args) mutable {
                auto target = asio::get_associated_executor(*h, ex);
                asio::post(target,
                           [h, args = std::make_tuple(std::forward<decltype(args)>(args)...)]() mutable {
                               std::apply([&](auto&&... a) { (*h)(std::move(a)...); }, std::move(args));
                           });
                work->reset();
            });
        },
        token);
}

}  // namespace detail

template <class Token>
auto Engine::async_connect(ConnectOptions options, Token&& token) {
    return detail::initiate<void(std::error_code, std::shared_ptr<Connection>)>(
        executor_, std::forward<Token>(token), [this, options = std::move(options)](auto done) mutable {
            start_connect(std::move(options), std::move(done));
        });
}

template <class Token>
auto Connection::async_request(std::string method, std::vector<std::uint8_t> body, Token&& token) {
    return detail::initiate<void(std::error_code, std::vector<std::uint8_t>)>(
        get_executor(), std::forward<Token>(token),
        [this, method = std::move(method), body = std::move(body)](auto done) mutable {
            start_request(std::move(method), std::move(body), std::move(done));
        });
}

template <class Token>
auto Connection::async_fetch(std::string cid, std::filesystem::path destination, FetchProgress progress,
                             Token&& token) {
    return detail::initiate<void(std::error_code, FetchResult)>(
        get_executor(), std::forward<Token>(token),
        [this, cid = std::move(cid), destination = std::move(destination),
         progress = std::move(progress)](auto done) mutable {
            start_fetch(std::move(cid), std::move(destination), std::move(progress), std::move(done));
        });
}

template <class Token>
auto Connection::async_reauth(std::string token, Token&& token_) {
    return detail::initiate<void(std::error_code, std::int64_t)>(
        get_executor(), std::forward<Token>(token_), [this, token = std::move(token)](auto done) mutable {
            start_reauth(std::move(token), std::move(done));
        });
}

template <class Token>
auto Connection::async_ping(Token&& token) {
    return detail::initiate<void(std::error_code, std::chrono::microseconds)>(
        get_executor(), std::forward<Token>(token),
        [this](auto done) mutable { start_ping(std::move(done)); });
}

template <class Token>
auto Connection::async_call(std::string method, std::vector<std::uint8_t> body, Token&& token) {
    return detail::initiate<void(std::error_code, Reply)>(
        get_executor(), std::forward<Token>(token),
        [this, method = std::move(method), body = std::move(body)](auto done) mutable {
            start_call(std::move(method), std::move(body), std::move(done));
        });
}

template <class Token>
auto Connection::async_close(std::chrono::milliseconds drain, Token&& token) {
    return detail::initiate<void(std::error_code, std::size_t)>(
        get_executor(), std::forward<Token>(token),
        [this, drain](auto done) mutable { start_close(drain, std::move(done)); });
}

template <class Token>
auto Connection::async_close(Token&& token) {
    return detail::initiate<void(std::error_code)>(
        get_executor(), std::forward<Token>(token), [this](auto done) mutable {
            start_close(std::nullopt,
                        [done = std::move(done)](std::error_code ec, std::size_t) mutable { done(ec); });
        });
}

template <class Token>
auto Connection::async_open_stream(std::string method, Token&& token) {
    return detail::initiate<void(std::error_code, std::shared_ptr<ClientStream>)>(
        get_executor(), std::forward<Token>(token), [this, method = std::move(method)](auto opened) mutable {
            start_open_stream(std::move(method), nullptr, nullptr, std::move(opened));
        });
}

template <class Token>
auto Connection::async_subscribe(std::string method, std::vector<std::uint8_t> request, Token&& token) {
    return detail::initiate<void(std::error_code, std::shared_ptr<ClientStream>)>(
        get_executor(), std::forward<Token>(token),
        [this, method = std::move(method), request = std::move(request)](auto opened) mutable {
            start_open_stream(std::move(method), nullptr, nullptr, std::move(opened), std::move(request));
        });
}

template <class Token>
auto Connection::async_open_stream(std::string method,
                                   std::function<void(std::vector<std::uint8_t>)> on_message,
                                   std::function<void(std::error_code)> done, Token&& token) {
    return detail::initiate<void(std::error_code, std::shared_ptr<ClientStream>)>(
        get_executor(), std::forward<Token>(token),
        [this, method = std::move(method), on_message = std::move(on_message),
         done = std::move(done)](auto opened) mutable {
            start_open_stream(std::move(method), std::move(on_message), std::move(done), std::move(opened));
        });
}

template <class Token>
auto ClientStream::async_send(std::vector<std::uint8_t> message, Token&& token) {
    return detail::initiate<void(std::error_code)>(link_executor(), std::forward<Token>(token),
                                                   [this, message = std::move(message)](auto done) mutable {
                                                       start_send(std::move(message), std::move(done));
                                                   });
}

template <class Token>
auto ClientStream::async_read(Token&& token) {
    return detail::initiate<void(std::error_code, std::vector<std::uint8_t>)>(
        link_executor(), std::forward<Token>(token),
        [this](auto done) mutable { start_read(std::move(done)); });
}

template <class Token>
auto ClientStream::async_finish(Token&& token) {
    return detail::initiate<void(std::error_code, protocol::Status)>(
        link_executor(), std::forward<Token>(token),
        [this](auto done) mutable { start_finish(std::move(done)); });
}

template <class Token>
auto ClientStream::async_cancel(Token&& token) {
    return detail::initiate<void(std::error_code)>(
        link_executor(), std::forward<Token>(token),
        [this](auto done) mutable { start_cancel(std::move(done)); });
}

}  // namespace cyxp2p::net
