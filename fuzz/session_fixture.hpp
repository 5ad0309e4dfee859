// Drivers that feed bytes into a sans-IO session the way an application would, on the fixed clock and keys
// of auth_fixture.hpp. Deterministic: the same input always takes the same path.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <span>
#include <string>

#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/engine_session.hpp>
#include <cyxp2p/protocol/node_session.hpp>

#include "auth_fixture.hpp"
#include "session_rig.hpp"

namespace cyxp2p::fuzz {

using test::at;

/// A small nonce window, so building one per input costs little; a fresh one per input keeps runs
/// independent (a HELLO nonce seen in one run must not be a replay in the next).
inline replay::Limits small_window() {
    replay::Limits l;
    l.nonce_capacity = 1024;
    l.shards = 2;
    return l;
}

/// Everything a NodeSession needs (tests/support/session_rig.hpp), under the fixed keys.
struct NodeRig {
    test::NodeRig rig{keyring(), std::string(kNodeId), small_window()};
    std::unique_ptr<protocol::NodeSession> node;

    explicit NodeRig(protocol::Now now)
        : node(std::make_unique<protocol::NodeSession>(rig.config, rig.services, now)) {}
};

/// An engine with a deterministic nonce generator (the real one draws from OpenSSL).
inline protocol::EngineConfig engine_config(std::string token = p2p_token()) {
    return test::engine_config(std::move(token), test::counting_random());
}

/// Session inputs: wire bytes, then one knob byte (the last byte of the input). The knob sets how the bytes
/// are split into receive() calls (0: all at once, else chunks of `knob` bytes) and how far the clock moves
/// between calls (knob x 100 ms), so the fuzzer reaches both the reassembly and the deadline paths.
struct Script {
    Span wire;
    std::size_t chunk = 0;
    protocol::Time step{0};
};

inline Script script(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return {};
    const std::uint8_t knob = data[size - 1];
    Script s{Span(data, size - 1), knob, std::chrono::milliseconds(100) * knob};
    if (s.chunk == 0) s.chunk = s.wire.size();
    return s;
}

/// What a node application does with events: answer every opened stream and every message, finish when
/// the engine finishes. Bounded by the input, since each reaction needs an event caused by input bytes.
inline void react(protocol::NodeSession& node) {
    while (auto e = node.poll_event()) {
        using K = protocol::Event::Kind;
        if (e->kind == K::stream_opened) {
            (void)node.send_message(e->stream_id, protocol::encode(protocol::Outcome{}));
        } else if (e->kind == K::message) {
            (void)node.send_message(e->stream_id, e->body);
        } else if (e->kind == K::stream_end) {
            (void)node.finish(e->stream_id);
        }
    }
}

/// What an engine application does: once ready, open a stream and submit a job; finish ended streams.
inline void react(protocol::EngineSession& engine, protocol::Now now) {
    while (auto e = engine.poll_event(now)) {  // timed: window auto-tuning runs too
        using K = protocol::Event::Kind;
        if (e->kind == K::ready) {
            std::error_code ec;
            if (auto id = engine.open_stream("job.submit", now, ec)) {
                (void)engine.send_message(*id, protocol::encode(protocol::JobSubmit{"job-1", {0x80}}));
                (void)engine.finish(*id);
            }
            engine.ping(now);
        } else if (e->kind == K::stream_end) {
            (void)engine.finish(e->stream_id);
        }
    }
}

/// Takes everything a session has to send in small budgeted chunks, as net/'s Link does.
template <class Session>
void drain_output(Session& s) {
    std::vector<std::uint8_t> out;
    do {
        s.poll_output(out, 4096);
    } while (!out.empty());
}

/// Feeds a script into a session, reacting after every chunk (output is dropped: nobody answers), then lets
/// a few deadlines fire.
template <class Session, class React>
void play(Session& s, const Script& sc, protocol::Now& now, React react_fn) {
    for (std::size_t off = 0; off < sc.wire.size(); off += sc.chunk) {
        s.receive(sc.wire.subspan(off, std::min(sc.chunk, sc.wire.size() - off)), now);
        react_fn(s, now);
        drain_output(s);
        now += sc.step;
    }
    for (int i = 0; i < 4; ++i) {
        auto t = s.next_timeout();
        if (!t) break;
        if (*t > now.mono) now += *t - now.mono;  // deadlines are monotonic; both clocks move
        s.on_timeout(now);
        react_fn(s, now);
        drain_output(s);
    }
}

/// Runs a handshake between a fresh engine and `rig`'s node at `now`; aborts if it does not complete.
inline void handshake(protocol::EngineSession& engine, protocol::NodeSession& node, protocol::Now now) {
    test::pump(engine, node, now, 8);
    if (!engine.ready() || !node.authenticated()) {
        std::fprintf(stderr, "fuzz fixture: handshake did not complete\n");
        std::abort();
    }
    test::drop_events(engine);
    test::drop_events(node);
}

}  // namespace cyxp2p::fuzz
