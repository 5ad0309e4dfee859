// The in-memory session rig shared by the protocol tests, the fuzz harnesses and the benchmarks: a node's
// trust and per-node state owned together, P2P tokens minted under it, engines with a deterministic nonce
// source, and a pump that moves bytes both ways until both sides fall quiet. Sans-IO and header-only, with no
// test framework in it: it builds in the GoogleTest suites, in the benchmarks and under clang's
// -fsanitize=fuzzer-no-link (target cyxp2p_session_rig).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/auth/key_source.hpp>
#include <cyxp2p/auth/keyring.hpp>
#include <cyxp2p/protocol/engine_session.hpp>
#include <cyxp2p/protocol/node_session.hpp>
#include <cyxp2p/replay/nonce_window.hpp>

namespace cyxp2p::test {

/// The rig's fixed "now" in Unix seconds: token times and deadlines are the same on every run.
inline constexpr std::int64_t kT0 = 1'700'000'000;
/// The monotonic clock reads this at kT0 (seconds since "boot"): far from any wall time, so a session that
/// took one clock for the other fails its token or replay checks instead of passing by coincidence.
inline constexpr std::int64_t kBootAtT0 = 86'400;

/// Both clocks when the wall clock says `unix_s` (and it was never stepped).
inline protocol::Now at(std::int64_t unix_s) {
    return {.mono = std::chrono::seconds(unix_s - kT0 + kBootAtT0), .wall = std::chrono::seconds(unix_s)};
}

/// Claims of a P2P token for `node_id`, issued at `issued_at`, valid for an hour (the longest a P2P token
/// may live), with the scopes of every method the sessions are driven with.
inline auth::Claims p2p_claims(std::string node_id = "node-1", std::int64_t issued_at = kT0) {
    auth::Claims c;
    c.subject = "user-1";
    c.node_id = std::move(node_id);
    c.session_id = "sess-1";
    c.issued_at = issued_at;
    c.expires_at = issued_at + 3600;
    c.scope = {"job:execute", "metrics:read", "content:read"};
    return c;
}

/// A KeySource over a keyring the caller owns and may change between sessions (tests and fuzz harnesses;
/// a node replaces whole sets through auth::KeySet instead).
class BorrowedKeys final : public auth::KeySource {
  public:
    explicit BorrowedKeys(const auth::Keyring& keys) : keys_(&keys) {}
    std::shared_ptr<const auth::Keyring> current() const override {
        return {std::shared_ptr<void>{}, keys_};  // aliasing, owns nothing
    }
    auth::KeySourceStatus status() const override { return {.keys = keys_->keys().size()}; }

  private:
    const auth::Keyring* keys_;
};

/// One signing key and the keyring that trusts it: what the Central Server and a node share.
struct Trust {
    auth::Jwk key;
    auth::Keyring keys;

    explicit Trust(auth::Jwk k) : key(std::move(k)) {
        if (auto ec = keys.add(key)) throw std::runtime_error("session rig: keyring: " + ec.message());
    }
    /// A fresh HS256 key (kid "k1").
    Trust() : Trust(auth::Jwk::generate(auth::Algorithm::hs256, "k1")) {}

    /// Throws std::runtime_error when the claims cannot be minted (a broken test, not a result).
    std::string mint(const auth::Claims& c) const {
        std::error_code ec;
        auto t = auth::mint(c, key, ec);
        if (!t) throw std::runtime_error("session rig: mint: " + ec.message());
        return std::move(*t);
    }
};

/// A node's per-node state, owned together: NodeServices points into it, so it neither copies nor moves.
/// The keyring belongs to the caller (a Trust, or the fixed keys of the fuzz harnesses) and must outlive it.
struct NodeRig {
    test::BorrowedKeys keys;
    replay::NonceWindow nonces;
    protocol::NodeConfig config;
    protocol::NodeServices services;

    explicit NodeRig(const auth::Keyring& ring, std::string node_id = "node-1",
                     const replay::Limits& window = {})
        : keys(ring), nonces(window) {
        config.node_id = std::move(node_id);
        services.keys = &keys;
        services.nonces = &nonces;
    }
    NodeRig(const NodeRig&) = delete;
    NodeRig& operator=(const NodeRig&) = delete;

    protocol::NodeSession session(protocol::Now now) const { return {config, services, now}; }
};

/// A deterministic EngineConfig::random (the real one draws from OpenSSL): each byte is the next value of
/// a counter times `step` plus `salt`, so engines given different salts send different nonces.
inline std::function<void(std::span<std::uint8_t>)> counting_random(int salt = 0, int step = 31) {
    return [salt, step, counter = 0](std::span<std::uint8_t> out) mutable {
        for (auto& b : out) b = static_cast<std::uint8_t>(++counter * step + salt);
    };
}

inline protocol::EngineConfig engine_config(
    std::string token, std::function<void(std::span<std::uint8_t>)> random = counting_random()) {
    protocol::EngineConfig c;
    c.token = std::move(token);
    c.random = std::move(random);
    return c;
}

/// Moves bytes both ways until neither side has anything to send, calling on_node() after the node received
/// and on_engine() after the engine did (taking events is what returns flow-control credit). False when the
/// two did not fall quiet within `rounds` exchanges.
template <class OnEngine, class OnNode>
bool pump(protocol::EngineSession& engine, protocol::NodeSession& node, protocol::Now now,
          OnEngine&& on_engine, OnNode&& on_node, int rounds = 100000) {
    for (int i = 0; i < rounds; ++i) {
        auto a = engine.poll_output();
        if (!a.empty()) node.receive(a, now);
        on_node();
        auto b = node.poll_output();
        if (!b.empty()) engine.receive(b, now);
        on_engine();
        if (a.empty() && b.empty()) return true;
    }
    return false;
}

/// pump() that leaves every event queued for the caller.
inline bool pump(protocol::EngineSession& engine, protocol::NodeSession& node, protocol::Now now,
                 int rounds = 100000) {
    return pump(
        engine, node, now, [] {}, [] {}, rounds);
}

/// Takes and drops every queued event.
template <class Session>
void drop_events(Session& s) {
    while (s.poll_event()) {
    }
}

}  // namespace cyxp2p::test
