// The pre-auth stage of a node connection: see preauth.hpp.
#include <utility>

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
    : permit_(std::move(other.permit_)), metrics_(std::exchange(other.metrics_, nullptr)) {}

Admitted& Admitted::operator=(Admitted&& other) noexcept {
    if (this != &other) {
        reset();
        permit_ = std::move(other.permit_);
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
}

// ---- FirstByteWait ----

FirstByteWait::FirstByteWait(Node::Impl& node, tcp::socket socket, Admitted admitted, std::string peer,
                             PreauthDeadlines deadlines)
    : node_(node),
      socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      admitted_(std::move(admitted)),
      peer_(std::move(peer)),
      deadlines_(deadlines) {}

void FirstByteWait::start() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->run(); });
}

void FirstByteWait::run() {
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
                 .detail = "before its first byte"});
            s->finish();
        });
    });
    timer_.expires_at(deadlines_.first_byte);
    timer_.async_wait([self](const boost::system::error_code& ec) {
        if (ec || self->done_) return;
        // When the first-byte deadline is the TLS deadline (a short TLS deadline, or a busy table), the
        // connection simply ran out of TLS time.
        const bool first_byte = self->deadlines_.first_byte < self->deadlines_.tls;
        if (first_byte) self->node_.metrics.first_byte_timeouts++;
        self->node_.metrics.tls_failures++;
        self->node_.audit_unauthenticated({.kind = AuditEvent::Kind::tls_failed,
                                           .peer = self->peer_,
                                           .result = first_byte ? "first_byte_timeout" : "tls_timeout",
                                           .detail = "no byte of a ClientHello in time"});
        self->finish();
    });
    // The kernel holds whatever arrives; wait_read allocates nothing in user space until then.
    socket_.async_wait(tcp::socket::wait_read,
                       [self](const boost::system::error_code& ec) { self->on_readable(ec); });
}

void FirstByteWait::on_readable(const boost::system::error_code& ec) {
    if (done_) return;
    if (ec || node_.stopping) {  // reset by the peer before a byte, or the node is stopping
        finish();
        return;
    }
    done_ = true;
    timer_.cancel();
    node_.forget(this);
    auto link =
        std::make_shared<NodeLink>(node_, std::move(socket_), std::move(admitted_), peer_, deadlines_);
    node_.remember(link);
    link->run();
}

void FirstByteWait::finish() {
    if (done_) return;
    done_ = true;
    timer_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
    admitted_.reset();
    node_.metrics.connections_open--;
    node_.forget(this);
}

void FirstByteWait::stop() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->finish(); });
}

}  // namespace cyxp2p::net
