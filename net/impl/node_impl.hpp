// Node's private state, shared by the listener (node.cpp), the per-connection link (node_link.cpp), the
// stream handler API (server_stream.cpp) and the content service (content_service.cpp).
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <cyxp2p/content/dag_source.hpp>
#include <cyxp2p/net/detail/link.hpp>
#include <cyxp2p/net/node.hpp>
#include <cyxp2p/pinning/tls_policy.hpp>
#include <cyxp2p/ratelimit/connection_limiter.hpp>
#include <cyxp2p/ratelimit/keyed_limiter.hpp>
#include <cyxp2p/replay/nonce_window.hpp>

namespace cyxp2p::net {

struct MethodEntry {
    std::string scope;
    MethodHandlers handlers;
};

class NodeLink;
class ClientHelloWait;
class ConnectionLeases;
class Admitted;
struct PreauthDeadlines;

class Node::Impl {
  public:
    explicit Impl(NodeOptions o);
    /// The reader pool first (its jobs post into the contexts), then the contexts (their queued handlers own
    /// links whose streams give their buffered bytes back to `metrics`), then the rest.
    ~Impl();
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    // A content.fetch stream's state (content_service.cpp). `source` belongs to the one read job in flight,
    // everything else to the connection's strand.
    struct FetchState {
        explicit FetchState(Impl& n) : node(n) {}
        ~FetchState() { node.metrics.send_buffered(-static_cast<std::int64_t>(ready_bytes)); }
        FetchState(const FetchState&) = delete;
        FetchState& operator=(const FetchState&) = delete;
        Impl& node;
        std::shared_ptr<content::DagSource> source;
        std::string cid;
        protocol::Time started{};  // monotonic
        struct Ready {
            std::vector<std::uint8_t> message;  // an encoded ContentBlock
            std::size_t block_bytes;
        };
        std::deque<Ready> ready;      // read ahead, in walk order
        std::size_t ready_bytes = 0;  // of the messages in `ready`
        std::uint64_t bytes = 0;      // block bytes queued on the stream so far
        bool reading = false;         // a read job is in flight
        bool walk_over = false;
        std::error_code read_error;
        bool ended = false;  // the last block was queued, or the fetch failed (already audited)
    };
    struct ReadBatch;
    void install_content_fetch();
    void pump_fetch(const StreamPtr& s, const std::shared_ptr<FetchState>& fetch);
    void start_read(const StreamPtr& s, const std::shared_ptr<FetchState>& fetch);
    void fetch_failed(ServerStream& s, FetchState& fetch);
    /// A content.fetch stream ended before its last block: audited as aborted (once).
    void fetch_aborted(ServerStream& s);
    void accept();
    void on_accept(std::size_t index, boost::system::error_code ec, detail::tcp::socket socket);
    void audit(AuditEvent e) {
        metrics.observe(e);  // the labelled counters come from the same events as the audit log
        record(std::move(e));
    }
    void record(AuditEvent e) {
        if (!options.audit) return;
        e.time_ms = std::chrono::floor<std::chrono::milliseconds>(options.clock->wall()).count();
        e.node_id = options.identity.node_id();
        options.audit->record(e);
    }
    /// The same for an event of a connection that never authenticated: sampled per kind
    /// (options.rate.preauth_audit); the ones left out are counted, and the next one recorded says how many.
    void audit_unauthenticated(AuditEvent e);
    void remember(const std::shared_ptr<NodeLink>& link) {
        std::lock_guard lock(links_mutex);
        links[link.get()] = link;
    }
    void forget(NodeLink* link) {
        std::lock_guard lock(links_mutex);
        links.erase(link);
    }
    void remember(const std::shared_ptr<ClientHelloWait>& w) {
        std::lock_guard lock(links_mutex);
        waiting[w.get()] = w;
    }
    void forget(ClientHelloWait* w) {
        std::lock_guard lock(links_mutex);
        waiting.erase(w);
    }

    NodeOptions options;
    std::shared_ptr<const auth::KeySource> keys;  // options.key_source, or options.keys as a fixed KeySet
    std::map<std::string, MethodEntry, std::less<>> methods;
    /// The TLS context new connections are made from. replace_identity() swaps it; a connection's SSL holds
    /// its own reference to the SSL_CTX it was made from, so open sessions keep their certificate.
    std::shared_ptr<detail::asio::ssl::context> current_tls() const {
        std::lock_guard lock(tls_mutex);
        return tls;
    }
    std::shared_ptr<detail::asio::ssl::context> make_tls(const pinning::Identity& identity,
                                                         std::error_code& ec);
    mutable std::mutex tls_mutex;
    std::shared_ptr<detail::asio::ssl::context> tls;
    std::vector<std::unique_ptr<detail::asio::io_context>> contexts;
    std::vector<detail::asio::executor_work_guard<detail::asio::io_context::executor_type>> guards;
    std::vector<std::thread> threads;
    std::unique_ptr<detail::tcp::acceptor> acceptor;
    std::size_t next = 0;
    replay::NonceWindow nonces;
    /// The limiters sessions count stream opens against. update_limits() replaces a changed one; each
    /// session's link holds the set it uses, so a replaced limiter lives until its last session moved off.
    struct RequestLimiters {
        std::shared_ptr<ratelimit::KeyedLimiter> per_peer;
        std::shared_ptr<ratelimit::KeyedLimiter> per_method;
    };
    struct Live {
        LiveLimits limits;
        std::shared_ptr<const RequestLimiters> limiters;
    };
    Live live() const {
        std::lock_guard lock(live_mutex);
        return live_;
    }
    /// The connection caps of live() in front of `connections` (whose own two caps are the ceiling).
    ratelimit::Admission admit(const ratelimit::Address& address);
    /// Runs `fn` on every link's thread and returns when all have run it (bounded, like check_deadlines).
    void on_every_link(const std::function<void(NodeLink&)>& fn);
    mutable std::mutex live_mutex;
    Live live_;
    std::mutex update_mutex;  // one update_limits at a time
    ratelimit::ConnectionLimiter connections;
    ratelimit::KeyedLimiter preauth_audit;                          // keyed by audit event kind
    std::array<std::atomic<std::uint64_t>, 32> audit_suppressed{};  // per kind, since the last one recorded
    Metrics metrics;
    std::mutex links_mutex;
    std::map<NodeLink*, std::weak_ptr<NodeLink>> links;
    std::map<ClientHelloWait*, std::weak_ptr<ClientHelloWait>>
        waiting;  // admitted, no byte yet, no TLS state
    std::atomic<bool> stopping{false};
    bool started = false;
    // Reads, re-hashes and encodes content.fetch blocks off the I/O threads (NodeOptions::content_readers).
    std::unique_ptr<detail::asio::thread_pool> readers;
    // Fleet mode (options.fleet): sessions defer their replay and limit checks to `fleet_admission`. Stopped
    // first in ~Impl, while the contexts its callbacks post into still exist.
    std::unique_ptr<Admission> fleet_admission;
    /// Fleet mode: the per-address connection rate and cap shared before TLS (impl/connection_leases.hpp);
    /// a new connection that passed the local limits waits for its verdict holding only the socket.
    std::unique_ptr<ConnectionLeases> fleet_leases;
    void start_fleet();
    /// After every admission check: the first pre-auth stage (ClientHelloWait) of an admitted connection.
    void ask_fleet(std::size_t index, const ratelimit::Address& address, detail::tcp::socket socket,
                   Admitted admitted, std::string peer, PreauthDeadlines deadlines);
    void start_preauth(detail::tcp::socket socket, Admitted admitted, std::string peer,
                       PreauthDeadlines deadlines);
};

}  // namespace cyxp2p::net
