// A sans-IO session on a real TLS stream: one reader, one writer and one deadline loop, all on the
// connection's strand. Node and engine connections derive from it and plug in their session.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <cyxp2p/net/clock.hpp>
#include <cyxp2p/net/detail/asio.hpp>
#include <cyxp2p/net/detail/tls_socket.hpp>
#include <cyxp2p/protocol/limits.hpp>

namespace cyxp2p::net::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using TlsStream = TlsSocket;

/// What the writer takes from the session per write: control frames the session queues meanwhile go out
/// after at most this much DATA (docs/net.md, "Write path"). 256 KiB is 16 full TLS records, enough to
/// keep a 1 Gbit/s socket busy for 2 ms between two wakeups.
inline constexpr std::size_t link_write_chunk = 256U << 10;
/// TCP_NOTSENT_LOWAT on every session socket: the kernel holds at most this many bytes not yet sent (on
/// top of what is in flight), so a PONG or a metrics message is not queued behind megabytes of bulk data
/// the session has already handed over (docs/net.md). 128 KiB: 1 ms of a 1 Gbit/s link.
inline constexpr int link_notsent_lowat = 128 << 10;

class Link : public std::enable_shared_from_this<Link> {
  public:
    /// `clock` (the owner's NodeOptions/EngineOptions::clock) is read for every session call and deadline.
    Link(TlsStream stream, std::chrono::milliseconds shutdown_timeout, std::shared_ptr<const Clock> clock);
    virtual ~Link() = default;
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    /// Spawns the loops. Call once, on the strand.
    void start();
    /// Something changed (output queued, a deadline moved): wake the writer, and re-arm the deadline timer if
    /// the session's next deadline is now earlier than the armed one (later ones are picked up when the
    /// timer fires). Strand only.
    void kick();
    /// Tears the connection down now (no close_notify). Strand only.
    void abort();
    /// Hands the session the clock's current time now, whatever the armed timer says (after an injected
    /// clock moved: ManualClock), and re-arms the timer for its next deadline. Strand only.
    void check_deadlines();
    /// Both clocks, as the sessions take them.
    protocol::Now now() const { return clock_->now(); }

    asio::any_io_executor get_executor() { return stream_.get_executor(); }
    bool finished() const { return finished_; }
    std::uint64_t bytes_in() const { return bytes_in_; }
    std::uint64_t bytes_out() const { return bytes_out_; }

  protected:
    virtual void handle_input(std::span<const std::uint8_t> bytes, protocol::Now t) = 0;
    virtual std::vector<std::uint8_t> take_output() = 0;
    /// Replaces `out` (its capacity reused) with about `max_bytes` of output. The default copies
    /// take_output(); links whose session frames lazily override it.
    virtual void fill_output(std::vector<std::uint8_t>& out, std::size_t max_bytes);
    /// Monotonic, as the session's next_timeout().
    virtual std::optional<protocol::Time> next_deadline() = 0;
    virtual void handle_timeout(protocol::Now t) = 0;
    virtual bool session_closed() = 0;
    /// The writer is about to write or wait: producers may queue more (up to their high-water marks).
    virtual void on_writable() {}
    /// The transport is gone (after close_notify, a socket error or abort). Called exactly once.
    virtual void on_finished(std::error_code transport_error) = 0;

    TlsStream stream_;

  private:
    asio::awaitable<void> read_loop();
    asio::awaitable<void> write_loop();
    asio::awaitable<void> deadline_loop();
    void finish(std::error_code ec);

    asio::steady_timer::time_point to_steady(protocol::Time deadline) const;

    std::chrono::milliseconds shutdown_timeout_;
    std::shared_ptr<const Clock> clock_;
    asio::steady_timer wake_;
    asio::steady_timer deadline_;
    std::optional<protocol::Time> armed_;
    bool finished_ = false;
    bool loops_started_ = false;
    std::error_code transport_error_;
    std::uint64_t bytes_in_ = 0;
    std::uint64_t bytes_out_ = 0;
};

}  // namespace cyxp2p::net::detail
