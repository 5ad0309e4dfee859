// Node: the listener, its I/O threads, admission before TLS, and stop.
#include <future>
#include <limits>
#include <stdexcept>
#include <thread>

#include <openssl/ssl.h>

#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/impl/connection_leases.hpp>
#include <cyxp2p/net/impl/node_impl.hpp>
#include <cyxp2p/net/impl/node_link.hpp>
#include <cyxp2p/net/impl/preauth.hpp>
#include <cyxp2p/net/window_budget.hpp>

namespace cyxp2p::net {

namespace asio = detail::asio;
using detail::tcp;

namespace {

std::optional<ratelimit::Address> address_of(const tcp::endpoint& ep) {
    const auto a = ep.address();
    if (a.is_v4()) return ratelimit::Address::v4(a.to_v4().to_bytes());
    if (a.to_v6().is_v4_mapped()) {
        return ratelimit::Address::v4(
            asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_bytes());  // one client, one key
    }
    return ratelimit::Address::v6(a.to_v6().to_bytes());
}

std::string describe(const tcp::endpoint& ep) {
    const auto a = ep.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

// TLS: ask for a client certificate but do not require one; any self-signed certificate is accepted here
// because it only matters when a token binds it (cnf.x5t#S256, checked against the token after TLS).
int accept_any_client_certificate(int, X509_STORE_CTX*) {
    return 1;
}

// The highest value update_limits may give the two connection caps: the address table is sized once, and
// every connected address needs its entry.
std::size_t connection_ceiling(const ratelimit::ConnectionLimits& l) {
    return std::min<std::size_t>(l.max_tracked_addresses, std::numeric_limits<std::uint32_t>::max() - 1);
}

// The limiter enforces every cap but the two live ones, which the node checks in front of it (Impl::admit):
// it gets their ceiling, and the handshake slots it allocates stay as many as the configured caps give.
ratelimit::ConnectionLimits with_live_ceiling(ratelimit::ConnectionLimits l) {
    if (l.max_connections > connection_ceiling(l))
        throw std::invalid_argument("ratelimit: max_tracked_addresses must be >= max_connections");
    l.max_handshakes = std::min(l.max_handshakes, l.max_connections);
    l.max_connections = l.max_connections_per_address = connection_ceiling(l);
    return l;
}

bool same_rate(const ratelimit::Rate& a, const ratelimit::Rate& b) {
    return a.tokens == b.tokens && a.period == b.period && a.burst == b.burst;
}

std::shared_ptr<ratelimit::KeyedLimiter> keyed(ratelimit::KeyedLimits table, const ratelimit::Rate& rate) {
    table.rate = rate;
    return std::make_shared<ratelimit::KeyedLimiter>(table);  // throws std::invalid_argument
}

}  // namespace

LiveLimits LiveLimits::of(const NodeOptions& o) {
    return {.requests_per_peer = o.rate.requests_per_peer.rate,
            .requests_per_method = o.rate.requests_per_method.rate,
            .max_connections = o.rate.connections.max_connections,
            .max_connections_per_address = o.rate.connections.max_connections_per_address,
            .max_concurrent_streams = o.session.max_concurrent_streams};
}

Node::Impl::Impl(NodeOptions o)
    : options(std::move(o)),
      nonces(options.replay),
      live_{LiveLimits::of(options),
            std::make_shared<const RequestLimiters>(RequestLimiters{
                keyed(options.rate.requests_per_peer, options.rate.requests_per_peer.rate),
                keyed(options.rate.requests_per_method, options.rate.requests_per_method.rate)})},
      connections(with_live_ceiling(options.rate.connections)),
      preauth_audit(options.rate.preauth_audit) {
    if (options.keys && options.key_source)
        throw std::invalid_argument("Node takes keys or key_source, not both");
    if (options.key_source) {
        keys = options.key_source;
    } else {
        if (!options.keys || options.keys->empty())
            throw std::invalid_argument("Node needs a non-empty keyring");
        keys = std::make_shared<auth::KeySet>(options.keys);
    }
    if (options.threads == 0) throw std::invalid_argument("Node needs at least one thread");
    if (!options.window_budget) options.window_budget = process_window_budget();
    if (!options.clock) options.clock = system_clock();
    std::error_code ec;
    tls = make_tls(options.identity, ec);
    if (!tls) throw std::system_error(ec, "node TLS context");
    for (unsigned i = 0; i < options.threads; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
    if (options.content) {
        if (options.content_readers == 0 || options.content_read_ahead == 0)
            throw std::invalid_argument(
                "Node needs a content reader and a content read-ahead of at least 1 byte");
        readers = std::make_unique<asio::thread_pool>(options.content_readers);
        install_content_fetch();
    }
    if (options.fleet) start_fleet();
}

void Node::Impl::start_fleet() {
    const FleetOptions& f = *options.fleet;
    const std::string prefix = f.prefix.empty() ? "cyxp2p:" + options.identity.node_id() + ":" : f.prefix;
    const std::string policy = f.when_unavailable == RedisUnavailable::local
                                   ? "new handshakes and opens use this node's own windows"
                                   : "new handshakes and opens are refused (unavailable)";
    // Runs on the client's thread: a counter, a gauge and one audit event per change, never per call.
    auto on_state = [this, policy](bool up, const std::string& why) {
        metrics.fleet_redis_up = up ? 1 : 0;
        record({.kind = AuditEvent::Kind::fleet_store,
                .result = up ? "up" : "down",
                .detail = up ? why : why + "; until it is back, " + policy});
    };
    auto client = std::make_shared<RedisClient>(f.redis, f.password, f.limits, std::move(on_state));
    fleet_leases =
        std::make_unique<ConnectionLeases>(client, prefix, f.when_unavailable, f.limits.lease_ttl, &metrics);
    fleet_admission = std::make_unique<RedisAdmission>(std::move(client), prefix, f.when_unavailable,
                                                       options.replay, options.rate, &metrics);
}

std::shared_ptr<asio::ssl::context> Node::Impl::make_tls(const pinning::Identity& identity,
                                                         std::error_code& ec) {
    auto ctx = pinning::make_node_context(identity, ec);
    if (!ctx) return nullptr;
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, accept_any_client_certificate);
    SSL_CTX_up_ref(ctx.get());  // asio::ssl::context takes one reference, `ctx` releases its own
    return std::make_shared<asio::ssl::context>(ctx.get());
}

void Node::Impl::audit_unauthenticated(AuditEvent e) {
    metrics.observe(e);  // every event counts in the metrics; only the audit log is sampled
    if (!options.audit) return;
    const auto kind = static_cast<std::size_t>(e.kind);
    auto* left_out = kind < audit_suppressed.size() ? &audit_suppressed[kind] : nullptr;
    if (!preauth_audit.try_acquire(to_string(e.kind), options.clock->monotonic())) {
        metrics.audit_events_suppressed++;
        if (left_out != nullptr) left_out->fetch_add(1, std::memory_order_relaxed);
        return;
    }
    if (left_out != nullptr) e.suppressed = left_out->exchange(0, std::memory_order_relaxed);
    record(std::move(e));
}

ratelimit::Admission Node::Impl::admit(const ratelimit::Address& address) {
    // on_accept runs one at a time (one accept is outstanding, its handler on contexts[0]), and a connection
    // closing only lowers the counts: nothing can be admitted between these checks and admit().
    const LiveLimits caps = live().limits;
    ratelimit::Admission refused;
    if (connections.connections(address) >= caps.max_connections_per_address) {
        refused.decision = {ratelimit::errc::too_many_connections_from_address, {}};
        return refused;
    }
    if (connections.connections() >= caps.max_connections) {
        refused.decision = {ratelimit::errc::too_many_connections, {}};
        return refused;
    }
    return connections.admit(address, options.clock->monotonic());
}

void Node::Impl::accept() {
    const std::size_t index = next++ % contexts.size();
    acceptor->async_accept(*contexts[index], [this, index](boost::system::error_code ec, tcp::socket socket) {
        on_accept(index, ec, std::move(socket));
    });
}

void Node::Impl::on_accept(std::size_t index, boost::system::error_code ec, tcp::socket socket) {
    (void)index;
    if (stopping || ec == asio::error::operation_aborted) return;
    if (!ec) {
        boost::system::error_code pe;
        const auto remote = socket.remote_endpoint(pe);
        const std::string peer = pe ? std::string("unknown") : describe(remote);
        auto addr = pe ? std::nullopt : address_of(remote);
        // Limiter buckets run on the injected monotonic clock; the pre-auth deadlines below are socket
        // timeouts on Asio's steady clock (docs/net.md, "Clocks").
        const auto accepted = std::chrono::steady_clock::now();
        auto admission = addr ? admit(*addr) : ratelimit::Admission{};
        if (!addr || !admission) {
            metrics.connections_refused++;
            audit_unauthenticated(
                {.kind = AuditEvent::Kind::connection_refused,
                 .peer = peer,
                 .result = addr ? ratelimit::to_string(admission.decision.reason) : "no_address"});
            socket.close(pe);  // before TLS: refusing costs us nothing more
        } else {
            if (admission.evicted_other) metrics.connections_evicted++;
            socket.set_option(tcp::no_delay(true), pe);
            // Fixed now, from the occupancy now: a connection arriving during a flood gets short deadlines
            // (and the fleet's round trip below counts against them).
            PreauthDeadlines deadlines;
            deadlines.tls = accepted + connections.handshake_deadline(options.tls_handshake_timeout);
            deadlines.client_hello =
                std::min(deadlines.tls, accepted + options.rate.connections.client_hello_timeout);
            Admitted admitted(std::move(admission.permit), metrics);
            if (!fleet_leases) {
                start_preauth(std::move(socket), std::move(admitted), peer, deadlines);
            } else {
                ask_fleet(index, *addr, std::move(socket), std::move(admitted), peer, deadlines);
            }
        }
    }
    accept();
}

// The local limits passed (refusals there cost no round trip); now the fleet's, without blocking the
// accept thread: the verdict comes back on the Redis thread and is posted to the connection's context.
// Meanwhile the connection holds its local permit and its socket, nothing else.
void Node::Impl::ask_fleet(std::size_t index, const ratelimit::Address& address, tcp::socket socket,
                           Admitted admitted, std::string peer, PreauthDeadlines deadlines) {
    struct Pending {
        tcp::socket socket;
        Admitted admitted;
        std::string peer;
        PreauthDeadlines deadlines;
    };
    auto pending = std::make_shared<Pending>(
        Pending{std::move(socket), std::move(admitted), std::move(peer), deadlines});
    fleet_leases->acquire(
        address, live().limits.max_connections_per_address,
        options.rate.connections.new_connections_per_address,
        // `pending` moves into the posted handler: its socket and permit end on the connection's thread.
        [this, index, pending = std::move(pending)](LeaseVerdict verdict) mutable {
            asio::post(*contexts[index], [this, pending = std::move(pending),
                                          verdict = std::move(verdict)]() mutable {
                Pending& p = *pending;
                if (stopping) return;  // the socket and permit close with `pending`
                if (!verdict.admits()) {
                    metrics.connections_refused++;
                    audit_unauthenticated({.kind = AuditEvent::Kind::connection_refused,
                                           .peer = p.peer,
                                           .result = verdict.name(),
                                           .detail = verdict.why});
                    boost::system::error_code ignored;
                    p.socket.close(ignored);  // before TLS, as the local limits refuse
                    return;
                }
                p.admitted.hold(std::move(verdict.lease));
                start_preauth(std::move(p.socket), std::move(p.admitted), std::move(p.peer), p.deadlines);
            });
        });
}

void Node::Impl::start_preauth(tcp::socket socket, Admitted admitted, std::string peer,
                               PreauthDeadlines deadlines) {
    metrics.connections_accepted++;
    metrics.connections_open++;
    auto wait = std::make_shared<ClientHelloWait>(*this, std::move(socket), std::move(admitted),
                                                  std::move(peer), deadlines);
    remember(wait);
    wait->start();
}

Node::Impl::~Impl() {
    // Joins the renewal thread; then the Redis thread, whose last callbacks post into contexts that still
    // exist.
    fleet_leases.reset();
    fleet_admission.reset();
    readers.reset();
    acceptor.reset();
    guards.clear();
    contexts.clear();
}

Node::Node(NodeOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Node::~Node() {
    // A node destroyed while running cuts its sessions after shutdown_timeout: no drain in a destructor.
    if (impl_->started) stop(std::chrono::milliseconds(0));
}

std::error_code Node::start() {
    auto& d = *impl_;
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(d.options.listen_address, ec);
    if (ec) return std::make_error_code(std::errc::invalid_argument);
    d.acceptor = std::make_unique<tcp::acceptor>(*d.contexts[0]);
    const tcp::endpoint ep(address, d.options.port);
    d.acceptor->open(ep.protocol(), ec);
    if (!ec) d.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) d.acceptor->bind(ep, ec);
    if (ec == asio::error::address_in_use) return make_error_code(errc::address_in_use);
    if (!ec) d.acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return std::error_code(ec.value(), ec.category());
    for (auto& ctx : d.contexts) d.guards.push_back(asio::make_work_guard(*ctx));
    asio::post(*d.contexts[0], [&d] { d.accept(); });
    for (auto& ctx : d.contexts) d.threads.emplace_back([c = ctx.get()] { c->run(); });
    d.started = true;
    return {};
}

std::uint16_t Node::local_port() const {
    boost::system::error_code ec;
    return impl_->acceptor ? impl_->acceptor->local_endpoint(ec).port() : 0;
}

void Node::stop() {
    stop(impl_->options.session.drain_timeout);
}

void Node::stop(std::chrono::milliseconds drain) {
    auto& d = *impl_;
    if (!d.started) return;
    d.stopping = true;
    asio::post(*d.contexts[0], [&d] {
        boost::system::error_code ec;
        d.acceptor->close(ec);
    });
    auto snapshot = [&d] {
        std::vector<std::shared_ptr<NodeLink>> out;
        std::lock_guard lock(d.links_mutex);
        for (auto& [p, w] : d.links) {
            if (auto s = w.lock()) out.push_back(s);
        }
        return out;
    };
    {
        std::vector<std::shared_ptr<ClientHelloWait>> silent;
        {
            std::lock_guard lock(d.links_mutex);
            for (auto& [p, w] : d.waiting)
                if (auto s = w.lock()) silent.push_back(s);
        }
        for (auto& w : silent) w->stop();  // nothing to drain before the ClientHello
    }
    auto all_closed_by = [&d](std::chrono::steady_clock::time_point deadline) {
        while (std::chrono::steady_clock::now() < deadline) {
            {
                std::lock_guard lock(d.links_mutex);
                if (d.links.empty() && d.waiting.empty()) return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return false;
    };
    // Streams get `drain` to finish (stop(): session.drain_timeout, which the sessions also enforce; a
    // session whose close is stuck behind a slow peer is not waited for); then they are cut and the
    // connections get shutdown_timeout for close_notify; then whatever is left is closed hard. So a transfer
    // never runs past `drain` (docs/operations.md).
    for (auto& link : snapshot()) link->drain();
    if (!all_closed_by(std::chrono::steady_clock::now() + drain)) {
        for (auto& link : snapshot()) link->close_now();
        all_closed_by(std::chrono::steady_clock::now() + d.options.shutdown_timeout);
    }
    for (auto& link : snapshot()) link->hard_stop();
    d.guards.clear();
    for (auto& t : d.threads) t.join();
    d.threads.clear();
    d.started = false;
}

void Node::Impl::on_every_link(const std::function<void(NodeLink&)>& fn) {
    std::vector<std::future<void>> done;
    {
        std::lock_guard lock(links_mutex);
        for (auto& [p, w] : links) {
            if (auto link = w.lock()) {
                std::packaged_task<void()> task([link, fn] { fn(*link); });
                done.push_back(task.get_future());
                asio::post(link->get_executor(), std::move(task));
            }
        }
    }
    // Bounded: a link whose thread is already stopped never runs `fn`, and has no session left.
    for (auto& f : done) f.wait_for(std::chrono::seconds(5));
}

void Node::check_deadlines() {
    impl_->on_every_link([](NodeLink& link) { link.check_deadlines(); });
}

std::error_code Node::update_limits(const LiveLimits& limits) {
    auto& d = *impl_;
    const std::size_t ceiling = connection_ceiling(d.options.rate.connections);
    if (limits.max_connections == 0 || limits.max_connections > ceiling ||
        limits.max_connections_per_address == 0 || limits.max_connections_per_address > ceiling ||
        limits.max_concurrent_streams == 0)
        return errc::limits_out_of_range;
    std::lock_guard one_at_a_time(d.update_mutex);
    const Impl::Live current = d.live();
    auto next = std::make_shared<Impl::RequestLimiters>(*current.limiters);
    try {
        // An unchanged rate keeps its limiter: a reload of an unrelated setting refills nobody's bucket.
        if (!same_rate(limits.requests_per_peer, current.limits.requests_per_peer))
            next->per_peer = keyed(d.options.rate.requests_per_peer, limits.requests_per_peer);
        if (!same_rate(limits.requests_per_method, current.limits.requests_per_method))
            next->per_method = keyed(d.options.rate.requests_per_method, limits.requests_per_method);
    } catch (const std::invalid_argument&) {
        return errc::limits_out_of_range;
    }
    {
        std::lock_guard lock(d.live_mutex);
        d.live_ = {limits, std::move(next)};
    }
    // A link created from now on reads the new set itself; the ones open now are told on their threads.
    d.on_every_link([](NodeLink& link) { link.refresh_limits(); });
    return {};
}

LiveLimits Node::limits() const {
    return impl_->live().limits;
}

const Metrics& Node::metrics() const {
    return impl_->metrics;
}

std::error_code Node::replace_identity(const pinning::Identity& identity) {
    // Tokens are audience-bound to the node_id (HELLO checks node_id == this node): a new one is a new node.
    if (identity.node_id() != impl_->options.identity.node_id()) return errc::node_id_changed;
    std::error_code ec;
    auto next = impl_->make_tls(identity, ec);
    if (!next) return ec;
    std::lock_guard lock(impl_->tls_mutex);
    impl_->tls = std::move(next);
    return {};
}

const std::string& Node::node_id() const {
    return impl_->options.identity.node_id();
}
std::size_t Node::open_connections() const {
    std::lock_guard lock(impl_->links_mutex);
    return impl_->links.size() + impl_->waiting.size();
}

}  // namespace cyxp2p::net
