#include <thread>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cyxp2p/net/detail/asio.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/http_endpoint.hpp>

namespace cyxp2p::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class HttpEndpoint::Impl {
  public:
    Impl(std::string address, std::uint16_t port, std::function<std::string()> metrics,
         std::function<bool()> healthy)
        : address_(std::move(address)),
          port_(port),
          metrics_(std::move(metrics)),
          healthy_(std::move(healthy)) {}

    std::error_code start() {
        boost::system::error_code ec;
        const auto addr = asio::ip::make_address(address_, ec);
        if (ec) return std::make_error_code(std::errc::invalid_argument);
        acceptor_ = std::make_unique<tcp::acceptor>(io_);
        const tcp::endpoint ep(addr, port_);
        acceptor_->open(ep.protocol(), ec);
        if (!ec) acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) acceptor_->bind(ep, ec);
        if (ec == asio::error::address_in_use) return make_error_code(errc::address_in_use);
        if (!ec) acceptor_->listen(64, ec);
        if (ec) return std::error_code(ec.value(), ec.category());
        asio::co_spawn(io_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { io_.run(); });
        return {};
    }

    void stop() {
        if (!thread_.joinable()) return;
        asio::post(io_, [this] {
            boost::system::error_code ec;
            acceptor_->close(ec);
            io_.stop();
        });
        thread_.join();
    }

    std::uint16_t port() const {
        boost::system::error_code ec;
        return acceptor_ ? acceptor_->local_endpoint(ec).port() : 0;
    }

  private:
    asio::awaitable<void> accept_loop() {
        for (;;) {
            boost::system::error_code ec;
            tcp::socket socket =
                co_await acceptor_->async_accept(asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
        }
    }

    asio::awaitable<void> serve(tcp::socket socket) {
        beast::tcp_stream stream(std::move(socket));
        stream.expires_after(std::chrono::seconds(5));
        beast::flat_buffer buffer;
        http::request<http::empty_body> req;
        boost::system::error_code ec;
        co_await http::async_read(stream, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        http::response<http::string_body> res;
        res.version(req.version());
        res.keep_alive(false);
        // RFC 9110 9.3.2: HEAD is GET without the body (monitoring probes use it); 3986 3.4: the query
        // string is not part of the path (Prometheus and load balancers append their own).
        const bool head = req.method() == http::verb::head;
        const std::string_view target(req.target().data(), req.target().size());
        const std::string_view path = target.substr(0, target.find('?'));
        if (req.method() != http::verb::get && !head) {
            res.result(http::status::method_not_allowed);
            res.set(http::field::allow, "GET, HEAD");
            res.body() = "GET or HEAD only\n";
        } else if (path == "/metrics") {
            res.result(http::status::ok);
            res.set(http::field::content_type, "text/plain; version=0.0.4");
            res.body() = metrics_();
        } else if (path == "/healthz") {
            const bool ok = healthy_();
            res.result(ok ? http::status::ok : http::status::service_unavailable);
            res.body() = ok ? "ok\n" : "unhealthy\n";
        } else {
            res.result(http::status::not_found);
            res.body() = "try /metrics or /healthz\n";
        }
        res.prepare_payload();
        if (head) {
            const auto length = res.body().size();
            res.body().clear();
            res.content_length(length);  // what GET would send, without sending it
        }
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    std::string address_;
    std::uint16_t port_;
    std::function<std::string()> metrics_;
    std::function<bool()> healthy_;
    asio::io_context io_{1};
    std::unique_ptr<tcp::acceptor> acceptor_;
    std::thread thread_;
};

HttpEndpoint::HttpEndpoint(std::string address, std::uint16_t port, std::function<std::string()> metrics,
                           std::function<bool()> healthy)
    : impl_(std::make_unique<Impl>(std::move(address), port, std::move(metrics), std::move(healthy))) {}
HttpEndpoint::~HttpEndpoint() {
    impl_->stop();
}
std::error_code HttpEndpoint::start() {
    return impl_->start();
}
void HttpEndpoint::stop() {
    impl_->stop();
}
std::uint16_t HttpEndpoint::local_port() const {
    return impl_->port();
}

}  // namespace cyxp2p::net
