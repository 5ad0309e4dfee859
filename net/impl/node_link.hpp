// One accepted connection on the node: TLS handshake under a deadline, then a NodeSession on the Link loops;
// session events become audit records, metrics and calls into the method handlers.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <cyxp2p/net/detail/link.hpp>
#include <cyxp2p/net/impl/node_impl.hpp>
#include <cyxp2p/net/impl/preauth.hpp>
#include <cyxp2p/protocol/event.hpp>
#include <cyxp2p/protocol/node_session.hpp>

namespace cyxp2p::net {

class ServerStreamImpl;

class NodeLink final : public detail::Link {
  public:
    /// Builds the TLS stream: called once the connection's ClientHello is queued (ClientHelloWait).
    NodeLink(Node::Impl& node, detail::tcp::socket socket, Admitted admitted, std::string peer,
             PreauthDeadlines deadlines);

    /// Registers for eviction and starts the TLS handshake. On the link's executor.
    void run();
    /// A newer connection took this one's handshake slot: close now, without close_notify. Link executor.
    void evicted();
    // Graceful stop from Node::stop (any thread).
    void drain();
    // The drain time is over: cut the open streams now (ERROR going_away, audited as aborted), then the
    // usual close_notify, bounded by shutdown_timeout.
    void close_now();
    void hard_stop();

    // Stream plumbing for ServerStreamImpl.
    protocol::NodeSession* session() { return session_.get(); }
    void stream_gone(std::uint32_t id) { streams_.erase(id); }
    void wants_writable(std::uint32_t id) { writable_.push_back(id); }
    /// Moves Metrics::send_buffered_bytes by what the session's send queue grew or shrank since last time.
    void account_queue();
    Node::Impl& node() { return node_; }
    /// Runs a handler callback `fn` for stream `s`: an exception resets `s` only (internal, naming the
    /// method, `callback` and what()), audited and counted; the connection and its other streams go on.
    void call_handler(const std::shared_ptr<ServerStreamImpl>& s, const char* callback,
                      const std::function<void()>& fn);
    /// Node::update_limits: the session counts its next OPENs against the node's current limiters. Link
    /// executor (a link still in TLS reads them when its session starts).
    void refresh_limits();

  protected:
    void handle_input(std::span<const std::uint8_t> bytes, protocol::Now t) override {
        node_.metrics.bytes_in += bytes.size();
        session_->receive(bytes, t);
        dispatch_events();
    }
    std::vector<std::uint8_t> take_output() override {
        if (!session_) return {};
        auto out = session_->poll_output();
        node_.metrics.bytes_out += out.size();
        return out;
    }
    void fill_output(std::vector<std::uint8_t>& out, std::size_t max_bytes) override {
        if (!session_) return out.clear();
        session_->poll_output(out, max_bytes);
        node_.metrics.bytes_out += out.size();
        dispatch_events();  // framing a stream's last DATA may have closed it: report that now
        account_queue();
    }
    std::optional<protocol::Time> next_deadline() override {
        return session_ ? session_->next_timeout() : std::nullopt;
    }
    void handle_timeout(protocol::Now t) override {
        session_->on_timeout(t);
        dispatch_events();
    }
    bool session_closed() override { return session_ && session_->closed(); }
    void on_writable() override;
    void on_finished(std::error_code) override;

  private:
    detail::asio::awaitable<void> handshake();
    void dispatch_events();
    void on_closed_event(const protocol::Event& e);
    void check_admission(const protocol::AdmissionRequest& request);
    /// Every stream still open ends with `end` (session closed or node stopping).
    void close_streams(const StreamEnd& end);
    /// The one end of a stream: out of the map, closed, on_close (once), state released.
    void end_stream(std::shared_ptr<ServerStreamImpl> s, const StreamEnd& end);  // a copy: it leaves the map
    /// Why the streams still open end when the session or connection does.
    StreamEnd::Reason ending_reason() const;
    /// on_going_away for every open stream, once, when the session started draining.
    void tell_going_away();

    Node::Impl& node_;
    Admitted admitted_;
    PreauthDeadlines deadlines_;
    bool evicted_ = false;
    std::string peer_;
    std::string client_thumbprint_;  // x5t#S256 of the client certificate, when one was presented
    std::unique_ptr<protocol::NodeSession> session_;
    std::shared_ptr<const Node::Impl::RequestLimiters> limiters_;  // the ones session_ counts against
    std::map<std::uint32_t, std::shared_ptr<ServerStreamImpl>> streams_;
    std::vector<std::uint32_t> writable_;
    /// Set when the connection ended (on_finished); streams read it from any thread (post() returns false).
    std::shared_ptr<std::atomic<bool>> gone_ = std::make_shared<std::atomic<bool>>(false);
    bool going_away_told_ = false;
    bool authenticated_ = false;
    protocol::Time started_{};          // monotonic
    std::int64_t queue_accounted_ = 0;  // this session's share of Metrics::send_buffered_bytes
};

}  // namespace cyxp2p::net
