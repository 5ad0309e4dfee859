// Before HELLO_ACK: an admitted connection's permit together with its place in the pre-auth gauge, the
// deadlines it was given at accept, and the first stage of every connection, which waits for its whole
// ClientHello holding only the socket (the kernel holds the bytes): no TLS state exists until then.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <cyxp2p/net/impl/connection_leases.hpp>
#include <cyxp2p/net/impl/node_impl.hpp>
#include <cyxp2p/ratelimit/connection_limiter.hpp>

namespace cyxp2p::net {

/// A ConnectionPermit (and in fleet mode its ConnectionLease) and its share of
/// Metrics::handshakes_in_progress, given back together. The gauge counts connections admitted and neither
/// authenticated nor closed (an evicted one until it is closed).
class Admitted {
  public:
    Admitted() = default;
    Admitted(ratelimit::ConnectionPermit permit, Metrics& metrics) noexcept;
    Admitted(Admitted&& other) noexcept;
    Admitted& operator=(Admitted&& other) noexcept;
    Admitted(const Admitted&) = delete;
    Admitted& operator=(const Admitted&) = delete;
    ~Admitted() { reset(); }

    /// HELLO_ACK sent: the handshake slot goes back. False if it had been evicted first.
    bool authenticated() noexcept;
    /// The connection closed.
    void reset() noexcept;
    ratelimit::ConnectionPermit& permit() noexcept { return permit_; }
    /// Fleet mode: the connection's lease, given back with the permit when it closes.
    void hold(ConnectionLease lease) noexcept { lease_ = std::move(lease); }

  private:
    void leave_gauge() noexcept;
    ratelimit::ConnectionPermit permit_;
    ConnectionLease lease_;
    Metrics* metrics_ = nullptr;  // set while counted in the gauge
};

/// One connection's pre-auth deadlines, fixed at accept from the limiter's occupancy then
/// (ConnectionLimiter::handshake_deadline): a flood shortens them for the connections that arrive during it.
/// (The HELLO deadline is shortened the same way when TLS completes.)
struct PreauthDeadlines {
    std::chrono::steady_clock::time_point client_hello;  // the whole first record queued by then (<= tls)
    std::chrono::steady_clock::time_point tls;           // TLS established by then
};

/// The first stage: the socket, the permit, a timer. On the first readable byte it becomes a NodeLink
/// (which builds the TLS stream then); incomplete at the ClientHello deadline, not TLS, evicted, or stopped,
/// it closes.
class ClientHelloWait final : public std::enable_shared_from_this<ClientHelloWait> {
  public:
    ClientHelloWait(Node::Impl& node, detail::tcp::socket socket, Admitted admitted, std::string peer,
                    PreauthDeadlines deadlines);
    /// Registers for eviction and starts waiting, on the socket's executor (from any thread, once).
    void start();
    /// Node::stop: close now (any thread).
    void stop();

  private:
    void run();
    void on_readable(const boost::system::error_code& ec);
    void set_low_mark(int bytes);
    void become_link();
    void finish();

    Node::Impl& node_;
    detail::tcp::socket socket_;
    detail::asio::steady_timer timer_;
    Admitted admitted_;
    std::string peer_;
    PreauthDeadlines deadlines_;
    int waiting_for_ = 0;  // bytes of the first record we asked the kernel to hold before waking us
    bool done_ = false;
};

}  // namespace cyxp2p::net
