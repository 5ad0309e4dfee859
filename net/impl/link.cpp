#include <array>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cyxp2p/net/detail/link.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/impl/timeout_guard.hpp>

namespace cyxp2p::net::detail {

using asio::redirect_error;
using asio::use_awaitable;

protocol::Time now() {
    return std::chrono::duration_cast<protocol::Time>(std::chrono::system_clock::now().time_since_epoch());
}

namespace {
// Session deadlines are wall-clock; timers run on the steady clock.
asio::steady_timer::time_point to_steady(protocol::Time deadline) {
    const auto delta = deadline - now();
    return asio::steady_timer::clock_type::now() +
           std::chrono::duration_cast<asio::steady_timer::duration>(delta);
}
}  // namespace

Link::Link(TlsStream stream, std::chrono::milliseconds shutdown_timeout)
    : stream_(std::move(stream)),
      shutdown_timeout_(shutdown_timeout),
      wake_(stream_.get_executor(), asio::steady_timer::time_point::max()),
      deadline_(stream_.get_executor(), asio::steady_timer::time_point::max()) {}

void Link::start() {
    loops_started_ = true;
#ifdef TCP_NOTSENT_LOWAT
    // Best effort: a kernel without it only queues more (the session still orders control frames first).
    boost::system::error_code ignored;
    stream_.lowest_layer().set_option(
        asio::detail::socket_option::integer<IPPROTO_TCP, TCP_NOTSENT_LOWAT>(link_notsent_lowat), ignored);
#endif
    auto self = shared_from_this();
    asio::co_spawn(
        get_executor(), [self]() { return self->read_loop(); }, asio::detached);
    asio::co_spawn(
        get_executor(), [self]() { return self->write_loop(); }, asio::detached);
    asio::co_spawn(
        get_executor(), [self]() { return self->deadline_loop(); }, asio::detached);
}

void Link::kick() {
    wake_.cancel();
    // The deadline timer is only ever moved earlier here. The session's idle deadline moves later with every
    // receive; re-arming for that would cost two timer syscalls per TLS record, so a timer armed for a
    // deadline that has since moved later just fires and deadline_loop re-arms it.
    const auto d = next_deadline();
    if (d && (!armed_ || *d < *armed_)) deadline_.cancel();
}

void Link::fill_output(std::vector<std::uint8_t>& out, std::size_t) {
    out = take_output();
}

void Link::abort() {
    finish(make_error_code(errc::connection_lost));
}

void Link::finish(std::error_code ec) {
    if (finished_) return;
    finished_ = true;
    transport_error_ = ec;
    boost::system::error_code ignored;
    stream_.lowest_layer().cancel(ignored);
    stream_.lowest_layer().close(ignored);
    wake_.cancel();
    deadline_.cancel();
    on_finished(ec);
}

asio::awaitable<void> Link::read_loop() {
    auto self = shared_from_this();
    // Not zero-filled: an idle connection should not keep 64 KiB of touched pages resident (bench/run (d)).
    std::array<std::uint8_t, 64 * 1024> buf;  // NOLINT(cppcoreguidelines-pro-type-member-init)
    while (!finished_) {
        boost::system::error_code ec;
        const std::size_t n =
            co_await stream_.async_read_some(asio::buffer(buf), redirect_error(use_awaitable, ec));
        if (finished_) break;
        if (ec) {
            // The peer closed (close_notify or TCP) or the socket failed. Whatever the session still had to
            // say cannot be delivered any more.
            finish(ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
                       ? make_error_code(errc::connection_lost)
                       : std::error_code(ec.value(), ec.category()));
            break;
        }
        bytes_in_ += n;
        handle_input({buf.data(), n}, now());
        kick();
    }
}

asio::awaitable<void> Link::write_loop() {
    auto self = shared_from_this();
    std::vector<std::uint8_t> out;  // reused by every write
    while (!finished_) {
        fill_output(out, link_write_chunk);
        // Producers top their queues up (each to its own high-water mark) before every write, not only
        // once everything drained: the session frames lazily, so a queue refilled only when empty would
        // leave the socket idle while the producer reads its next blocks.
        on_writable();
        if (out.empty()) fill_output(out, link_write_chunk);
        if (!out.empty()) {
            boost::system::error_code ec;
            co_await asio::async_write(stream_, asio::buffer(out), redirect_error(use_awaitable, ec));
            if (ec) {
                finish(std::error_code(ec.value(), ec.category()));
                break;
            }
            bytes_out_ += out.size();
            continue;
        }
        if (session_closed()) {
            // Everything the session had to say is on the wire: close_notify, bounded by shutdown_timeout so
            // a silent peer cannot hold the connection open, then close.
            TimeoutGuard guard(get_executor(), shutdown_timeout_,
                               [self] { self->finish(make_error_code(errc::connection_lost)); });
            boost::system::error_code ec;
            co_await stream_.async_shutdown(redirect_error(use_awaitable, ec));
            guard.cancel();
            finish({});
            break;
        }
        boost::system::error_code ec;
        wake_.expires_at(asio::steady_timer::time_point::max());
        co_await wake_.async_wait(redirect_error(use_awaitable, ec));
    }
}

asio::awaitable<void> Link::deadline_loop() {
    auto self = shared_from_this();
    while (!finished_) {
        armed_ = next_deadline();
        deadline_.expires_at(armed_ ? to_steady(*armed_) : asio::steady_timer::time_point::max());
        boost::system::error_code ec;
        co_await deadline_.async_wait(redirect_error(use_awaitable, ec));
        if (finished_) break;
        if (ec) continue;  // cancelled by kick(): an earlier deadline to arm
        // Armed lazily (kick()): time out only if the session's current deadline has really passed.
        const auto t = now();
        if (const auto d = next_deadline(); d && *d <= t) {
            handle_timeout(t);
            wake_.cancel();
        }
    }
}

}  // namespace cyxp2p::net::detail
