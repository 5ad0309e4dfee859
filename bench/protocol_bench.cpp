// protocol/: what framing and the sessions cost per byte, next to memcpy of the same bytes in the same
// binary. No TLS and no sockets: the sans-IO sessions are driven against each other in memory through
// tests/support/session_rig.hpp, as the protocol tests do, so the figures are the protocol's own cost.
//   BM_FrameEncode / BM_MemcpyFrames        64 MiB of DATA payload as 64 KiB frames (max_frame_size)
//   BM_FrameDecode / BM_MemcpyRecords       the same frames fed to a FrameDecoder in 16 KiB pieces (records)
//   BM_SessionTransfer / BM_MemcpyMessages  64 MiB as 256 KiB messages from a NodeSession to an EngineSession
//                                           on one stream (content.fetch style), flow control and all
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <benchmark/benchmark.h>

#include <cyxp2p/protocol/engine_session.hpp>
#include <cyxp2p/protocol/frame.hpp>
#include <cyxp2p/protocol/node_session.hpp>

#include "session_rig.hpp"

namespace p = cyxp2p::protocol;

namespace {

constexpr std::size_t kTotal = 64U << 20;
constexpr std::size_t kFrame = 64U << 10;
constexpr std::size_t kRecord = 16U << 10;
constexpr std::size_t kMessage = 256U << 10;

std::vector<std::uint8_t> pattern(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 131 + (i >> 9));
    return v;
}

void bytes_processed(benchmark::State& state) {
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(kTotal));
}

void BM_FrameEncode(benchmark::State& state) {
    const auto payload = pattern(kFrame);
    for (auto _ : state) {
        p::FrameEncoder enc;
        for (std::size_t i = 0; i < kTotal / kFrame; ++i) enc.append(p::FrameType::data, 0, 1, payload);
        auto out = enc.take();
        benchmark::DoNotOptimize(out.data());
    }
    bytes_processed(state);
}
BENCHMARK(BM_FrameEncode)->Unit(benchmark::kMillisecond);

// The raw primitive: the same payload bytes copied into a fresh buffer of the same final size.
void BM_MemcpyFrames(benchmark::State& state) {
    const auto payload = pattern(kFrame);
    for (auto _ : state) {
        std::vector<std::uint8_t> out;
        out.reserve(kTotal / kFrame * (kFrame + p::frame_header_size));
        for (std::size_t i = 0; i < kTotal / kFrame; ++i)
            out.insert(out.end(), payload.begin(), payload.end());
        benchmark::DoNotOptimize(out.data());
    }
    bytes_processed(state);
}
BENCHMARK(BM_MemcpyFrames)->Unit(benchmark::kMillisecond);

void BM_FrameDecode(benchmark::State& state) {
    p::FrameEncoder enc;
    const auto payload = pattern(kFrame);
    for (std::size_t i = 0; i < kTotal / kFrame; ++i) enc.append(p::FrameType::data, 0, 1, payload);
    const auto wire = enc.take();
    for (auto _ : state) {
        p::FrameDecoder dec(static_cast<std::uint32_t>(kFrame));
        std::size_t got = 0;
        std::error_code ec;
        for (std::size_t off = 0; off < wire.size(); off += kRecord) {
            dec.feed(std::span(wire).subspan(off, std::min(kRecord, wire.size() - off)));
            while (auto f = dec.next(ec)) got += f->payload.size();
        }
        if (ec || got != kTotal) state.SkipWithError("decode failed");
        benchmark::DoNotOptimize(got);
    }
    bytes_processed(state);
}
BENCHMARK(BM_FrameDecode)->Unit(benchmark::kMillisecond);

// The raw primitive: the same 16 KiB pieces copied into a reassembly buffer.
void BM_MemcpyRecords(benchmark::State& state) {
    p::FrameEncoder enc;
    const auto payload = pattern(kFrame);
    for (std::size_t i = 0; i < kTotal / kFrame; ++i) enc.append(p::FrameType::data, 0, 1, payload);
    const auto wire = enc.take();
    std::vector<std::uint8_t> buf(kFrame + p::frame_header_size + kRecord);
    for (auto _ : state) {
        std::size_t fill = 0;
        for (std::size_t off = 0; off < wire.size(); off += kRecord) {
            const auto n = std::min(kRecord, wire.size() - off);
            if (fill + n > buf.size()) fill = 0;
            std::memcpy(buf.data() + fill, wire.data() + off, n);
            fill += n;
            benchmark::ClobberMemory();
        }
        benchmark::DoNotOptimize(buf.data());
    }
    bytes_processed(state);
}
BENCHMARK(BM_MemcpyRecords)->Unit(benchmark::kMillisecond);

// A node and an engine past the handshake, in memory.
class Pair {
  public:
    Pair() : rig_(trust_.keys, "node-bench") {
        const auto token = trust_.mint(cyxp2p::test::p2p_claims(
            "node-bench", std::chrono::duration_cast<std::chrono::seconds>(now_.wall).count()));
        node_.emplace(rig_.session(now_));
        engine_.emplace(cyxp2p::test::engine_config(token), now_);
        pump();
        if (!engine_->ready() || !node_->authenticated()) throw std::runtime_error("handshake");
    }

    // Opens one stream and moves `total` bytes as `message`-sized messages node -> engine. Returns the bytes
    // the engine received.
    std::size_t transfer(std::span<const std::uint8_t> message, std::size_t total) {
        std::error_code ec;
        auto sid = engine_->open_stream("content.fetch", now_, ec);
        if (!sid) throw std::runtime_error("open_stream");
        engine_->finish(*sid);
        std::size_t sent = 0, received = 0;
        bool finished = false, ended = false;
        for (std::size_t round = 0; !ended && round < 1'000'000; ++round) {
            auto a = engine_->poll_output();
            if (!a.empty()) node_->receive(a, now_);
            while (node_->poll_event()) {
            }
            while (sent < total && node_->pending_bytes(*sid) < 2 * message.size()) {
                if (node_->send_message(*sid, message)) throw std::runtime_error("send_message");
                sent += message.size();
            }
            if (sent >= total && !finished) finished = !node_->finish(*sid);
            auto b = node_->poll_output();
            if (!b.empty()) engine_->receive(b, now_);
            while (auto e = engine_->poll_event()) {
                if (e->kind == p::Event::Kind::message) received += e->body.size();
                if (e->kind == p::Event::Kind::stream_end || e->kind == p::Event::Kind::stream_closed)
                    ended = true;
                if (e->kind == p::Event::Kind::stream_reset || e->kind == p::Event::Kind::closed) {
                    throw std::runtime_error("stream failed: " + e->error.message());
                }
            }
        }
        pump();
        return received;
    }

  private:
    void pump() {
        cyxp2p::test::pump(
            *engine_, *node_, now_, [this] { cyxp2p::test::drop_events(*engine_); },
            [this] { cyxp2p::test::drop_events(*node_); }, 1000);
    }

    p::Now now_ = cyxp2p::test::at(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    cyxp2p::test::Trust trust_;
    cyxp2p::test::NodeRig rig_;
    std::optional<p::NodeSession> node_;
    std::optional<p::EngineSession> engine_;
};

void BM_SessionTransfer(benchmark::State& state) {
    Pair pair;
    const auto message = pattern(kMessage);
    for (auto _ : state) {
        const auto got = pair.transfer(message, kTotal);
        if (got != kTotal) state.SkipWithError("short transfer");
    }
    bytes_processed(state);
}
BENCHMARK(BM_SessionTransfer)->Unit(benchmark::kMillisecond);

// The raw primitive: each 256 KiB message copied once into a fresh buffer the receiver owns.
void BM_MemcpyMessages(benchmark::State& state) {
    const auto message = pattern(kMessage);
    for (auto _ : state) {
        for (std::size_t i = 0; i < kTotal / kMessage; ++i) {
            std::vector<std::uint8_t> copy(message.begin(), message.end());
            benchmark::DoNotOptimize(copy.data());
        }
    }
    bytes_processed(state);
}
BENCHMARK(BM_MemcpyMessages)->Unit(benchmark::kMillisecond);

}  // namespace
