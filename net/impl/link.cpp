#include <algorithm>
#include <span>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cyxp2p/net/detail/link.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/impl/timeout_guard.hpp>

namespace cyxp2p::net::detail {

using asio::redirect_error;
using asio::use_awaitable;

// Session deadlines are on the injected monotonic clock; Asio's timers on the real steady clock. With the
// default clock the two are the same clock; with a ManualClock the timer fires after the real delta and the
// session is asked again (or check_deadlines() asks it at once).
asio::steady_timer::time_point Link::to_steady(protocol::Time deadline) const {
    // A day is far beyond every session deadline; the clamp keeps the sum in range whatever the clock says.
    const auto delta = std::clamp<protocol::Time>(deadline - clock_->monotonic(), protocol::Time::zero(),
                                                  std::chrono::hours(24));
    return asio::steady_timer::clock_type::now() +
           std::chrono::duration_cast<asio::steady_timer::duration>(delta);
}

Link::Link(TlsStream stream, std::chrono::milliseconds shutdown_timeout, std::shared_ptr<const Clock> clock)
    : stream_(std::move(stream)),
      shutdown_timeout_(shutdown_timeout),
      clock_(std::move(clock)),
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

void Link::check_deadlines() {
    if (finished_ || !loops_started_) return;  // no session yet (TLS), or gone
    handle_timeout(now());
    wake_.cancel();
    deadline_.cancel();  // deadline_loop re-arms for the deadline the session has now
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

namespace {
// Decrypted input is read into a buffer of the I/O thread and handed to the session before the reader waits
// again, so no connection holds a read buffer while idle (docs/performance.md, "idle memory"). 64 KiB: up
// to four TLS records per hand-over in bulk transfers. Borrowed, not shared: should a session callback ever
// run another link's reader on this thread, that one finds the slot empty and takes a fresh buffer.
constexpr std::size_t read_buffer_bytes = 64 * 1024;
thread_local std::vector<std::uint8_t> spare_read_buffer;

class BorrowedReadBuffer {
  public:
    BorrowedReadBuffer() : buf_(std::move(spare_read_buffer)) {
        if (buf_.size() != read_buffer_bytes) buf_.resize(read_buffer_bytes);
    }
    ~BorrowedReadBuffer() { spare_read_buffer = std::move(buf_); }
    BorrowedReadBuffer(const BorrowedReadBuffer&) = delete;
    BorrowedReadBuffer& operator=(const BorrowedReadBuffer&) = delete;
    std::span<std::uint8_t> span() { return buf_; }

  private:
    std::vector<std::uint8_t> buf_;
};
}  // namespace

asio::awaitable<void> Link::read_loop() {
    auto self = shared_from_this();
    while (!finished_) {
        boost::system::error_code ec;
        co_await stream_.async_wait_readable(redirect_error(use_awaitable, ec));
        if (finished_) break;
        // Fill the buffer from what OpenSSL and the socket have now, then hand it over in one piece.
        TlsSocket::Want want = TlsSocket::Want::nothing;
        {
            BorrowedReadBuffer borrowed;
            const std::span<std::uint8_t> buf = borrowed.span();
            std::size_t n = 0;
            while (!ec && n < buf.size()) {
                const std::size_t got = stream_.read_some_now(buf.subspan(n), want, ec);
                if (got == 0) break;
                n += got;
            }
            if (n > 0) {
                bytes_in_ += n;
                handle_input(buf.first(n), now());
                kick();
            }
        }
        if (finished_) break;
        if (ec) {
            // The peer closed (close_notify or TCP) or the socket failed. Whatever the session still had to
            // say cannot be delivered any more.
            finish(ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
                       ? make_error_code(errc::connection_lost)
                       : std::error_code(ec.value(), ec.category()));
            break;
        }
        if (want == TlsSocket::Want::write) {
            // OpenSSL must send before it can read more (a KeyUpdate reply): wait until it can.
            co_await stream_.lowest_layer().async_wait(tcp::socket::wait_write,
                                                       redirect_error(use_awaitable, ec));
        }
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
        // Fired, or cancelled by kick() (an earlier deadline) or check_deadlines() (the clock moved). The
        // session acts only on deadlines that passed by now, and converts its wall-clock ones (token
        // expiry) with this reading: a timer armed before a wall step cannot hide that step.
        (void)ec;
        handle_timeout(now());
        wake_.cancel();
    }
}

}  // namespace cyxp2p::net::detail
