// The trustless gateway's HTTP side (net/gateway.hpp): Beast over plain TCP, one coroutine per connection on
// its own strand, keep-alive, per-address connection and request limits, CAR responses streamed as chunks
// straight from a DagWalker (one block in memory at a time, plus the chunk being written).
#include <array>
#include <atomic>
#include <span>
#include <thread>
#include <unordered_set>
#include <vector>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cyxp2p/content/car.hpp>
#include <cyxp2p/content/dag_walker.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/gateway_request.hpp>
#include <cyxp2p/content/varint.hpp>
#include <cyxp2p/net/detail/asio.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/gateway.hpp>
#include <cyxp2p/ratelimit/connection_limiter.hpp>
#include <cyxp2p/ratelimit/keyed_limiter.hpp>

namespace cyxp2p::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::optional<ratelimit::Address> address_of(const tcp::endpoint& ep) {
    const auto a = ep.address();
    if (a.is_v4()) return ratelimit::Address::v4(a.to_v4().to_bytes());
    if (a.to_v6().is_v4_mapped())
        return ratelimit::Address::v4(asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_bytes());
    return ratelimit::Address::v6(a.to_v6().to_bytes());
}

ratelimit::ConnectionLimits connection_limits(const GatewayLimits& l) {
    ratelimit::ConnectionLimits c;
    c.max_connections = l.max_connections;
    c.max_connections_per_address = l.max_connections_per_address;
    c.max_connections_per_network =
        std::max<std::size_t>(l.max_connections / 4, l.max_connections_per_address);
    // No pre-request state worth a handshake table: a connection is "done handshaking" once admitted, and the
    // request deadline bounds a slow client instead.
    c.max_handshakes = l.max_connections;
    c.max_handshakes_per_address = l.max_connections_per_address;
    c.max_handshakes_per_network = c.max_connections_per_network;
    c.new_connections_per_address = {l.requests_per_second, std::chrono::seconds(1), l.request_burst};
    c.evict_oldest_handshake = false;
    return c;
}

ratelimit::KeyedLimits request_limits(const GatewayLimits& l) {
    ratelimit::KeyedLimits k;
    k.rate = {l.requests_per_second, std::chrono::seconds(1), l.request_burst};
    return k;
}

// Headers every successful response carries (trustless-gateway "Response Headers"): the content is
// immutable, named by its CID, and must not be rendered by a browser.
template <class Body>
void set_content_headers(http::response<Body>& res, const content::GatewayRequest& g) {
    const std::string id = g.cid.to_string();
    res.set(http::field::content_type, content::gateway_content_type(g));
    res.set(http::field::etag, content::gateway_etag(g));
    res.set(http::field::cache_control, "public, max-age=29030400, immutable");
    res.set(http::field::content_disposition,
            "attachment; filename=\"" + id + (g.format == content::GatewayFormat::car ? ".car\"" : ".bin\""));
    res.set("X-Ipfs-Roots", id);
    res.set("X-Content-Type-Options", "nosniff");
    res.set(http::field::vary, "Accept");
    res.set(http::field::accept_ranges, "none");
}

}  // namespace

class Gateway::Impl {
  public:
    Impl(content::Blockstore store, GatewayOptions options)
        : store_(std::move(store)),
          options_(std::move(options)),
          clock_(options_.clock ? options_.clock : system_clock()),
          connections_(connection_limits(options_.limits)),
          requests_(request_limits(options_.limits)),
          io_(static_cast<int>(std::max<std::size_t>(options_.limits.threads, 1))) {}

    ~Impl() { stop(); }

    std::error_code start() {
        boost::system::error_code ec;
        const auto addr = asio::ip::make_address(options_.address, ec);
        if (ec) return std::make_error_code(std::errc::invalid_argument);
        acceptor_ = std::make_unique<tcp::acceptor>(io_);
        const tcp::endpoint ep(addr, options_.port);
        acceptor_->open(ep.protocol(), ec);
        if (!ec) acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) acceptor_->bind(ep, ec);
        if (ec == asio::error::address_in_use) return make_error_code(errc::address_in_use);
        if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) return std::error_code(ec.value(), ec.category());
        port_ = acceptor_->local_endpoint(ec).port();
        asio::co_spawn(io_, accept_loop(), asio::detached);
        for (std::size_t i = 0; i < std::max<std::size_t>(options_.limits.threads, 1); ++i)
            threads_.emplace_back([this] { io_.run(); });
        return {};
    }

    void stop() {
        if (threads_.empty()) return;
        asio::post(io_, [this] {
            boost::system::error_code ec;
            acceptor_->close(ec);
        });
        io_.stop();  // suspended connections are destroyed with the io_context's pending handlers
        for (auto& t : threads_) t.join();
        threads_.clear();
    }

    std::uint16_t port() const { return port_; }

    GatewayStats stats() const {
        GatewayStats s;
        s.requests = requests_served_.load();
        s.refused_connections = refused_.load();
        s.rate_limited = rate_limited_.load();
        s.not_found = not_found_.load();
        s.bad_requests = bad_requests_.load();
        s.bytes_sent = bytes_sent_.load();
        s.aborted = aborted_.load();
        return s;
    }

  private:
    asio::awaitable<void> accept_loop() {
        for (;;) {
            boost::system::error_code ec;
            tcp::socket socket = co_await acceptor_->async_accept(
                asio::make_strand(io_), asio::redirect_error(asio::use_awaitable, ec));
            if (ec == asio::error::operation_aborted || !acceptor_->is_open()) co_return;
            if (ec) continue;  // EMFILE and friends: the next accept may succeed
            asio::co_spawn(socket.get_executor(), serve(std::move(socket)), asio::detached);
        }
    }

    // A short response with a text body (refusals and errors); false when the connection must close.
    template <class Stream>
    asio::awaitable<bool> send_text(Stream& stream, unsigned version, bool keep, bool head,
                                    http::status status, std::string body,
                                    std::chrono::nanoseconds retry_after = {}) {
        http::response<http::string_body> res{status, version};
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        if (status == http::status::method_not_allowed) res.set(http::field::allow, "GET, HEAD");
        if (retry_after.count() > 0) {
            const auto s = std::chrono::ceil<std::chrono::seconds>(retry_after).count();
            res.set(http::field::retry_after, std::to_string(std::max<std::int64_t>(s, 1)));
        }
        res.body() = std::move(body) + "\n";
        res.keep_alive(keep);
        res.prepare_payload();
        if (head) res.body().clear();
        boost::system::error_code ec;
        stream.expires_after(options_.limits.write_timeout);
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        co_return !ec && keep;
    }

    asio::awaitable<void> serve(tcp::socket socket) {
        boost::system::error_code ec;
        const auto peer = address_of(socket.remote_endpoint(ec));
        if (ec || !peer) co_return;
        auto admission = connections_.admit(*peer, clock_->monotonic());
        if (!admission) {
            ++refused_;
            co_return;  // closing at once is the cheapest refusal; the client's limit is documented
        }
        admission.permit.handshake_done();
        beast::tcp_stream stream(std::move(socket));
        beast::flat_buffer buffer;
        const auto& lim = options_.limits;
        for (std::size_t n = 0; n < lim.max_requests_per_connection; ++n) {
            stream.expires_after(lim.request_timeout);
            http::request_parser<http::empty_body> parser;
            parser.header_limit(8 * 1024);
            co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
            if (ec) break;  // closed, timed out, malformed or carrying a body: nothing to answer
            const auto& req = parser.get();
            ++requests_served_;
            const bool keep = req.keep_alive() && n + 1 < lim.max_requests_per_connection;
            const bool head = req.method() == http::verb::head;
            if (auto d = requests_.try_acquire(*peer, clock_->monotonic()); !d) {
                ++rate_limited_;
                if (!co_await send_text(stream, req.version(), keep, head, http::status::too_many_requests,
                                        "too many requests from this address", d.retry_after))
                    break;
                continue;
            }
            content::GatewayRefusal refusal;
            auto g = content::parse_gateway_request(
                std::string_view(req.method_string().data(), req.method_string().size()),
                std::string_view(req.target().data(), req.target().size()),
                std::string_view(req[http::field::accept].data(), req[http::field::accept].size()), refusal);
            if (!g) {
                ++bad_requests_;
                if (!co_await send_text(stream, req.version(), keep, head,
                                        static_cast<http::status>(refusal.status), refusal.reason))
                    break;
                continue;
            }
            const auto inm = req[http::field::if_none_match];
            const bool not_modified =
                !inm.empty() && std::string_view(inm.data(), inm.size()) == content::gateway_etag(*g);
            const bool again = g->format == content::GatewayFormat::raw
                                   ? co_await serve_raw(stream, *g, req.version(), keep, not_modified)
                                   : co_await serve_car(stream, *g, req.version(), keep, not_modified);
            if (!again) break;
        }
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    template <class Stream>
    asio::awaitable<bool> not_found(Stream& stream, const content::GatewayRequest& g, unsigned version,
                                    bool keep, const std::error_code& ec) {
        if (ec == content::errc::block_not_found) {
            ++not_found_;
            co_return co_await send_text(stream, version, keep, g.head, http::status::not_found,
                                         "this node does not hold " + g.cid.to_string());
        }
        // The node's copy is damaged or its source file changed: a server fault, never data sent as good.
        co_return co_await send_text(
            stream, version, keep, g.head, http::status::internal_server_error,
            "this node's copy of " + g.cid.to_string() + " cannot be served: " + ec.message());
    }

    template <class Stream>
    asio::awaitable<bool> serve_raw(Stream& stream, const content::GatewayRequest& g, unsigned version,
                                    bool keep, bool not_modified) {
        std::error_code ec;
        auto block = store_.get(g.cid, ec);  // re-hashed against the CID as it is read
        if (!block) co_return co_await not_found(stream, g, version, keep, ec);
        http::response<http::vector_body<std::uint8_t>> res{
            not_modified ? http::status::not_modified : http::status::ok, version};
        set_content_headers(res, g);
        res.keep_alive(keep);
        const std::size_t size = block->size();
        if (!not_modified && !g.head) res.body() = std::move(*block);
        res.prepare_payload();
        if (g.head && !not_modified) res.content_length(size);
        boost::system::error_code bec;
        stream.expires_after(options_.limits.write_timeout);
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, bec));
        if (bec) co_return false;
        if (!g.head && !not_modified) bytes_sent_ += size;
        co_return keep;
    }

    template <class Stream>
    asio::awaitable<bool> serve_car(Stream& stream, const content::GatewayRequest& g, unsigned version,
                                    bool keep, bool not_modified) {
        // 404 is decided on the root block (the spec's rule); a child found missing later cuts the stream.
        if (!store_.has(g.cid))
            co_return co_await not_found(stream, g, version, keep, content::errc::block_not_found);
        http::response<http::empty_body> res{not_modified ? http::status::not_modified : http::status::ok,
                                             version};
        set_content_headers(res, g);
        res.keep_alive(keep);
        boost::system::error_code bec;
        stream.expires_after(options_.limits.write_timeout);
        if (g.head || not_modified) {
            co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, bec));
            co_return !bec && keep;
        }
        res.chunked(true);
        http::response_serializer<http::empty_body> sr{res};
        co_await http::async_write_header(stream, sr, asio::redirect_error(asio::use_awaitable, bec));
        if (bec) co_return false;

        content::Bytes out;
        const content::Bytes header = content::encode_car_header({g.cid});
        content::append_varint(out, header.size());
        out.insert(out.end(), header.begin(), header.end());
        // One chunk: what `out` holds, then `tail` (a block's bytes, sent where they lie: no copy).
        const auto flush = [&](std::span<const std::uint8_t> tail) -> asio::awaitable<bool> {
            boost::system::error_code wec;
            stream.expires_after(options_.limits.write_timeout);
            const std::array<asio::const_buffer, 2> parts{asio::buffer(out),
                                                          asio::buffer(tail.data(), tail.size())};
            co_await asio::async_write(stream, http::make_chunk(parts),
                                       asio::redirect_error(asio::use_awaitable, wec));
            bytes_sent_ += out.size() + tail.size();
            out.clear();
            co_return !wec;
        };
        content::DagWalker walker(store_, g.cid, store_.limits());
        std::unordered_set<content::Cid> sent;  // dups=n only
        std::error_code ec;
        while (auto b = walker.next(ec)) {
            if (!g.dups && !sent.insert(b->cid).second) continue;
            const content::Bytes cid = b->cid.bytes();
            content::append_varint(out, cid.size() + b->data.size());
            out.insert(out.end(), cid.begin(), cid.end());
            // Small blocks are gathered into `out` up to write_chunk; a block that fills the chunk (a 256 KiB
            // leaf, the common case) goes out in the same write as what is pending, without being copied.
            if (out.size() + b->data.size() < options_.limits.write_chunk) {
                out.insert(out.end(), b->data.begin(), b->data.end());
            } else if (!co_await flush(b->data)) {
                ++aborted_;
                co_return false;
            }
            if (g.scope == content::DagScope::block) break;
        }
        if (ec) {
            // Already committed to 200: end the connection without the last chunk, so the client sees an
            // incomplete response (and would find the CAR incomplete when verifying anyway).
            ++aborted_;
            co_return false;
        }
        if (!out.empty() && !co_await flush({})) {
            ++aborted_;
            co_return false;
        }
        stream.expires_after(options_.limits.write_timeout);
        co_await asio::async_write(stream, http::make_chunk_last(),
                                   asio::redirect_error(asio::use_awaitable, bec));
        co_return !bec && keep;
    }

    content::Blockstore store_;
    GatewayOptions options_;
    std::shared_ptr<const Clock> clock_;  // the limiters' time; the sockets' deadlines are Asio's
    ratelimit::ConnectionLimiter connections_;
    ratelimit::KeyedLimiter requests_;
    asio::io_context io_;
    std::unique_ptr<tcp::acceptor> acceptor_;
    std::vector<std::thread> threads_;
    std::uint16_t port_ = 0;
    std::atomic<std::uint64_t> requests_served_{0}, refused_{0}, rate_limited_{0}, not_found_{0},
        bad_requests_{0}, bytes_sent_{0}, aborted_{0};
};

Gateway::Gateway(content::Blockstore store, GatewayOptions options)
    : impl_(std::make_unique<Impl>(std::move(store), std::move(options))) {}
Gateway::~Gateway() = default;
std::error_code Gateway::start() {
    return impl_->start();
}
void Gateway::stop() {
    impl_->stop();
}
std::uint16_t Gateway::local_port() const {
    return impl_->port();
}
GatewayStats Gateway::stats() const {
    return impl_->stats();
}

}  // namespace cyxp2p::net
