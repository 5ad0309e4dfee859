// The pre-auth stage of a node connection: see preauth.hpp.
#include <array>
#include <cerrno>
#include <utility>

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cyxp2p/net/impl/node_link.hpp>
#include <cyxp2p/net/impl/preauth.hpp>

namespace cyxp2p::net {

namespace asio = detail::asio;
using detail::tcp;

// ---- Admitted ----

Admitted::Admitted(ratelimit::ConnectionPermit permit, Metrics& metrics) noexcept
    : permit_(std::move(permit)), metrics_(&metrics) {
    metrics_->handshakes_in_progress++;
}

Admitted::Admitted(Admitted&& other) noexcept
    : permit_(std::move(other.permit_)),
      lease_(std::move(other.lease_)),
      metrics_(std::exchange(other.metrics_, nullptr)) {}

Admitted& Admitted::operator=(Admitted&& other) noexcept {
    if (this != &other) {
        reset();
        permit_ = std::move(other.permit_);
        lease_ = std::move(other.lease_);
        metrics_ = std::exchange(other.metrics_, nullptr);
    }
    return *this;
}

void Admitted::leave_gauge() noexcept {
    if (metrics_ != nullptr) std::exchange(metrics_, nullptr)->handshakes_in_progress--;
}

bool Admitted::authenticated() noexcept {
    leave_gauge();
    return permit_.handshake_done();
}

void Admitted::reset() noexcept {
    leave_gauge();
    permit_.reset();
    lease_.reset();
}

// ---- ClientHelloWait ----

ClientHelloWait::ClientHelloWait(Node::Impl& node, tcp::socket socket, Admitted admitted, std::string peer,
                                 PreauthDeadlines deadlines)
    : node_(node),
      socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      admitted_(std::move(admitted)),
      peer_(std::move(peer)),
      deadlines_(deadlines) {}

void ClientHelloWait::start() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->run(); });
}

void ClientHelloWait::run() {
    auto self = shared_from_this();
    // Evicted by a newer connection: the limiter calls this on the admitting thread, so hop to ours.
    admitted_.permit().on_evicted([weak = weak_from_this(), ex = socket_.get_executor()] {
        asio::post(ex, [weak] {
            auto s = weak.lock();
            if (!s || s->done_) return;
            s->node_.audit_unauthenticated(
                {.kind = AuditEvent::Kind::connection_evicted,
                 .peer = s->peer_,
                 .result = ratelimit::to_string(ratelimit::errc::handshake_evicted),
                 .detail = "before its ClientHello"});
            s->finish();
        });
    });
    timer_.expires_at(deadlines_.client_hello);
    timer_.async_wait([self](const boost::system::error_code& ec) {
        if (ec || self->done_) return;
        // When the ClientHello deadline is the TLS deadline (a short TLS deadline, or a busy table), the
        // connection simply ran out of TLS time.
        const bool hello_late = self->deadlines_.client_hello < self->deadlines_.tls;
        if (hello_late) self->node_.metrics.client_hello_timeouts++;
        self->node_.metrics.tls_failures++;
        self->node_.audit_unauthenticated({.kind = AuditEvent::Kind::tls_failed,
                                           .peer = self->peer_,
                                           .result = hello_late ? "client_hello_timeout" : "tls_timeout",
                                           .detail = "no byte of a ClientHello in time"});
        self->finish();
    });
    // The kernel holds whatever arrives; wait_read allocates nothing in user space until then.
    socket_.async_wait(tcp::socket::wait_read,
                       [self](const boost::system::error_code& ec) { self->on_readable(ec); });
}

void ClientHelloWait::on_readable(const boost::system::error_code& ec) {
    if (done_) return;
    if (ec || node_.stopping) {  // the node is stopping, or the socket failed
        finish();
        return;
    }
    // The whole first TLS record (the ClientHello, sent in one flight) waits in the kernel's buffer, not in
    // ours: SO_RCVLOWAT makes the socket readable only once that many bytes are queued (socket(7)). Until
    // then this connection is a socket and a timer, whatever a slow client trickles.
    const int fd = socket_.native_handle();
    std::array<std::uint8_t, 5> header{};
    const ssize_t n = ::recv(fd, header.data(), header.size(), MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {  // woken without data after all: wait again
        socket_.async_wait(
            tcp::socket::wait_read,
            [self = shared_from_this()](const boost::system::error_code& e) { self->on_readable(e); });
        return;
    }
    int queued = 0;
    if (n <= 0 || ::ioctl(fd, FIONREAD, &queued) != 0 || (waiting_for_ > 0 && queued < waiting_for_)) {
        finish();  // closed or reset before the record was complete (readable at EOF whatever the low mark)
        return;
    }
    if (n == static_cast<ssize_t>(header.size())) {
        // RFC 8446 5.1: ContentType handshake (22), legacy_record_version 0x03xx, length at most 2^14.
        const int length = header[3] << 8 | header[4];
        if (header[0] != 22 || header[1] != 3 || length == 0 || length > (1 << 14)) {
            node_.metrics.tls_failures++;
            node_.audit_unauthenticated({.kind = AuditEvent::Kind::tls_failed,
                                         .peer = peer_,
                                         .result = "not_tls",
                                         .detail = "the first bytes are not a TLS handshake record"});
            finish();
            return;
        }
        if (queued >= length + 5) {
            set_low_mark(1);
            become_link();
            return;
        }
        waiting_for_ = length + 5;
    } else {
        waiting_for_ = static_cast<int>(header.size());
    }
    set_low_mark(waiting_for_);
    // Bytes that arrived between the count and the new low mark woke nobody: look again rather than wait.
    if (::ioctl(fd, FIONREAD, &queued) == 0 && queued >= waiting_for_) {
        asio::post(socket_.get_executor(), [self = shared_from_this()] { self->on_readable({}); });
        return;
    }
    socket_.async_wait(
        tcp::socket::wait_read,
        [self = shared_from_this()](const boost::system::error_code& e) { self->on_readable(e); });
}

void ClientHelloWait::set_low_mark(int bytes) {
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes);
}

void ClientHelloWait::become_link() {
    done_ = true;
    timer_.cancel();
    node_.forget(this);
    auto link =
        std::make_shared<NodeLink>(node_, std::move(socket_), std::move(admitted_), peer_, deadlines_);
    node_.remember(link);
    link->run();
}

void ClientHelloWait::finish() {
    if (done_) return;
    done_ = true;
    timer_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
    admitted_.reset();
    node_.metrics.connections_open--;
    node_.forget(this);
}

void ClientHelloWait::stop() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->finish(); });
}

}  // namespace cyxp2p::net
