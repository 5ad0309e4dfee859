// Flow control and output scheduling of a session (docs/protocol.md section 6): receive windows that
// auto-tune on the application's consumption, credit returned about every 1/8 window, RTT samples from
// PING/PONG, control frames ahead of DATA (which is framed lazily, round-robin), and the stall rule.
#include <algorithm>
#include <cstdio>

#include <cyxp2p/protocol/detail/core.hpp>

namespace cyxp2p::protocol::detail {
namespace {

// Each message is charged at least this much credit, so a flood of empty messages cannot queue events
// for free.
constexpr std::uint64_t kMessageCharge = 64;

std::uint64_t charge_of(std::size_t body_size) {
    return std::max<std::uint64_t>(body_size + message_prefix_size, kMessageCharge);
}

}  // namespace

// The receiver grants credit back only as the application takes messages (poll_event), so a peer that
// ignores its window is caught, and what one session can make us hold is bounded by the windows plus the
// reassembly budget. A DATA frame arrives in pieces (FrameDecoder::stream_data): its header is checked and
// charged when it arrives, and each piece goes straight into the stream's message reader.
void Core::on_data(const Frame& f) {
    flow_activity_ = true;
    const std::uint32_t id = f.header.stream_id;
    if (f.piece_offset == 0 && !begin_data(f.header)) return;
    Stream* s = find_stream(id);
    if (s == nullptr) {
        // Reset after this frame began (by an earlier piece, or by the application in between): its bytes
        // used session credit, given back as for DATA on a reset stream.
        if (f.final_piece && f.piece_offset > 0) replenish(nullptr);
        return;
    }
    s->progress_bytes += f.payload.size();
    const std::size_t held_before = s->reader.buffered();
    const std::size_t reserved_before = s->reader.reserved();
    const std::uint64_t may_reserve =
        local_.max_reassembly_bytes - std::min(local_.max_reassembly_bytes, reserved_bytes_);
    const auto feed_error = s->reader.feed(f.payload, static_cast<std::size_t>(may_reserve));
    reassembly_bytes_ += s->reader.buffered() - held_before;
    reserved_bytes_ = reserved_bytes_ + s->reader.reserved() - reserved_before;
    if (feed_error) {
        reset(id, errc::message_too_large, "message larger than max_message_size");
        return;
    }
    while (auto body = s->reader.next()) {
        reassembly_bytes_ -= body->size() + message_prefix_size;
        const std::uint64_t charge = charge_of(body->size());
        s->recv.undelivered += charge;
        session_recv_.undelivered += charge;
        Event e{.kind = Event::Kind::message, .stream_id = id, .body = std::move(*body)};
        e.deferred = s->deferred;
        push(std::move(e));
    }
    // What this frame left in the reader counts against the session's reassembly budget.
    if (reassembly_bytes_ > local_.max_reassembly_bytes) {
        reset(id, errc::message_too_large, "incomplete messages exceed the session's reassembly budget");
        return;
    }
    if (!f.final_piece) return;
    if ((f.header.flags & flags::end_stream) != 0) {
        if (s->reader.partial()) {
            reset(id, errc::bad_message, "stream ended inside a message");
            return;
        }
        s->remote_ended = true;
        push({.kind = Event::Kind::stream_end, .stream_id = id});
        maybe_close_stream(*s);
        return;
    }
    replenish(s);
}

// The checks and charges of a whole DATA frame, made on its header. False: nothing of it is delivered.
bool Core::begin_data(const FrameHeader& h) {
    const std::uint32_t id = h.stream_id;
    const auto n = static_cast<std::int64_t>(h.length);
    session_recv_.credit -= n;
    if (session_recv_.credit < 0) {
        close(errc::flow_control, "DATA beyond the session window");
        return false;
    }
    received_data_bytes_ += h.length;
    if (received_data_bytes_ > local_.max_session_bytes) {
        close(errc::byte_limit, "session byte limit reached");
        return false;
    }
    Stream* s = find_stream(id);
    if (s == nullptr) {
        // A stream we reset may still have DATA in flight: it used session credit, which we give back at
        // once (dropped bytes are never undelivered, so replenish() grants them to the peer again; restoring
        // our own window without telling the peer would shrink its session window for good); ids never
        // opened are a violation.
        if (id == 0 || id > highest_stream_id_) {
            close(errc::protocol_violation, "DATA on a stream never opened");
            return false;
        }
        replenish(nullptr);
        return false;
    }
    if (s->remote_ended) {
        close(errc::protocol_violation, "DATA after END_STREAM");
        return false;
    }
    s->recv.credit -= n;
    if (s->recv.credit < 0) {
        close(errc::flow_control, "DATA beyond the stream window");
        return false;
    }
    return true;
}

void Core::replenish(Stream* s) {
    if (closed_) return;
    top_up(session_recv_, 0);
    if (s != nullptr && !s->remote_ended) top_up(s->recv, s->id);
}

// The peer may have `size - undelivered` in flight. Credit goes back once 1/8 of the window is due, so a
// sender whose window is one bandwidth-delay product never idles waiting for it (HTTP/2 stacks wait for
// half a window: a stall of about an RTT per window). Bytes of an incomplete message do not count as
// undelivered: the message cannot be delivered before its end arrives, so withholding credit for it would
// deadlock messages larger than the window.
void Core::top_up(RecvWindow& w, std::uint32_t stream) {
    const std::uint64_t size = w.delay_limit != 0 ? std::min(w.size, w.delay_limit) : w.size;
    const auto target = static_cast<std::int64_t>(size - std::min(w.undelivered, size));
    const std::int64_t grant = target - w.credit;
    // A delay-limited stream keeps about queue_delay_target of queue on the path: credit in eighths of a
    // 10 MiB window would let the sender burst 1.3 MiB (13 ms at 100 MiB/s) into it at once, so its credit
    // goes back in steps of at most the initial stream window.
    const std::uint64_t step =
        w.delay_limit != 0 ? std::min<std::uint64_t>(size / 8, local_.initial_stream_window) : size / 8;
    if (grant > 0 && (grant >= static_cast<std::int64_t>(step) || w.credit <= 0)) {
        w.credit += grant;
        send_frame(FrameType::window_update, 0, stream, store_be32(static_cast<std::uint32_t>(grant)));
    }
}

// quic-go (internal/flowcontrol/base_flow_controller.go, maybeAdjustWindowSize): once the application
// consumed more than half the window in this epoch, the window, not the application, limits the rate if
// that took less than 4 * (consumed / size) * SRTT: grow. A new epoch starts either way. Without an RTT
// sample there is no verdict and the epoch goes on. Growth follows consumption, never arrival, so a slow
// reader keeps its initial window.
//
// Startup (our addition, in the spirit of TCP slow start and BBR's startup gain): while every epoch took
// less than kStartupFraction of that limit, the window is far below the path's bandwidth-delay product and
// grows 4x, not 2x. A window-limited sender moves a window per RTT in bursts, so half a window takes from
// a quarter to about half the limit; a bandwidth-limited one at k times the BDP takes k/4 of it. The first
// epoch that takes longer ends startup for good. In simulation (tests/protocol/flow_test.cpp, 100 ms,
// 1 Gbit/s) the ramp from 256 KiB to 16 MiB takes 3.7 RTTs instead of 6.7; what startup can overshoot
// (up to about 10x the BDP, below the caps) is bounded by the caps and the budget like any growth, and
// costs only credit: a receiver that keeps up never holds it.
constexpr double kStartupFraction = 0.6;

unsigned Core::adjust_epoch(RecvWindow& w, Time now) {
    if (w.epoch_consumed <= w.size / 2) return 1;
    const auto srtt = rtt_.smoothed();
    if (!srtt) return 1;
    const auto elapsed = static_cast<double>((now - w.epoch_start).count());
    const double limit = 4.0 * static_cast<double>(w.epoch_consumed) / static_cast<double>(w.size) *
                         static_cast<double>(srtt->count());
    w.epoch_consumed = 0;
    w.epoch_start = now;
    if (w.startup && elapsed < kStartupFraction * limit) return 4;
    w.startup = false;
    return elapsed < limit ? 2 : 1;
}

// Session growth is what memory is accounted by: every byte a peer can make us hold is within the session
// window (plus the reassembly budget), so growth beyond the initial window is reserved from the budget.
bool Core::grow_session(std::uint64_t new_size) {
    if (new_size <= session_recv_.size) return false;
    const std::uint64_t extra = new_size - session_recv_.size;
    if (budget_ != nullptr && !budget_->try_reserve(extra)) {
        ++growth_refused_;
        return false;
    }
    if (budget_ != nullptr) budget_held_ += extra;
    session_recv_.size = new_size;
    return true;
}

// With no stream open, growth goes back to the budget, but only down to the credit the peer still holds
// plus what is undelivered: granted credit cannot be taken back, and the budget must cover it.
void Core::shrink_session() {
    const std::uint64_t outstanding =
        static_cast<std::uint64_t>(std::max<std::int64_t>(session_recv_.credit, 0)) +
        session_recv_.undelivered;
    const std::uint64_t new_size = std::max<std::uint64_t>(local_.initial_session_window, outstanding);
    if (new_size >= session_recv_.size) return;
    const std::uint64_t freed = std::min(session_recv_.size - new_size, budget_held_);
    if (budget_ != nullptr) budget_->release(freed);
    budget_held_ -= freed;
    session_recv_.size = new_size;
}

void Core::release_budget() {
    if (budget_ != nullptr && budget_held_ > 0) budget_->release(budget_held_);
    budget_held_ = 0;
}

std::optional<Event> Core::poll_event() {
    return next_event(std::nullopt);
}

std::optional<Event> Core::poll_event(Time now) {
    return next_event(now);
}

std::optional<Event> Core::next_event(std::optional<Time> now) {
    if (events_.empty()) return std::nullopt;
    Event e = std::move(events_.front());
    events_.pop_front();
    if (e.kind != Event::Kind::message) return e;
    if (e.deferred) return e;  // its credit waits for consumed(), even if the stream is gone by then
    // The application took the message: its credit goes back to the peer.
    release(find_stream(e.stream_id), charge_of(e.body.size()), now);
    return e;
}

void Core::defer_consumption(std::uint32_t id) {
    if (Stream* s = find_stream(id)) s->deferred = true;
}

void Core::consumed(std::uint32_t id, std::size_t body_size, Time now) {
    if (closed_) return;
    release(find_stream(id), charge_of(body_size), now);
}

// A message's charge leaves the undelivered counts (its credit can go back) and, with the time it was
// consumed, feeds auto-tuning.
void Core::release(Stream* s, std::uint64_t charge, std::optional<Time> now) {
    session_recv_.undelivered -= std::min(charge, session_recv_.undelivered);
    if (s != nullptr) s->recv.undelivered -= std::min(charge, s->recv.undelivered);
    if (now && !closed_) {
        session_recv_.epoch_consumed += charge;
        if (const unsigned f = adjust_epoch(session_recv_, *now); f > 1) {
            grow_session(std::min<std::uint64_t>(f * session_recv_.size, local_.max_session_window));
        }
        if (s != nullptr) {
            s->recv.epoch_consumed += charge;
            const unsigned f = adjust_epoch(s->recv, *now);
            const std::uint64_t want = std::min<std::uint64_t>(f * s->recv.size, local_.max_stream_window);
            if (want > s->recv.size) {
                // quic-go: the session window stays >= 1.5x the largest stream window, so one bulk stream
                // cannot take all of the session's credit; growth the session cannot follow is refused.
                const std::uint64_t need =
                    std::min<std::uint64_t>(want + want / 2, local_.max_session_window);
                if (session_recv_.size >= need || grow_session(need)) {
                    s->recv.size = want;
                    largest_stream_window_ = std::max(largest_stream_window_, want);
                    if (!window_ramp_ && want >= local_.max_stream_window) window_ramp_ = *now - s->opened;
                }
            }
        }
    }
    replenish(s);
}

void Core::on_window_update(const Frame& f) {
    flow_activity_ = true;
    if (f.payload.size() != 4) {
        close(errc::bad_frame, "WINDOW_UPDATE must be 4 bytes");
        return;
    }
    const std::uint32_t inc = load_be32(f.payload);
    if (inc == 0) {
        close(errc::bad_frame, "WINDOW_UPDATE of zero");
        return;
    }
    std::int64_t* window = nullptr;
    if (f.header.stream_id == 0) {
        window = &session_send_window_;
    } else if (Stream* s = find_stream(f.header.stream_id)) {
        window = &s->send_window;
    } else {
        if (f.header.stream_id > highest_stream_id_)
            close(errc::protocol_violation, "WINDOW_UPDATE on unknown stream");
        return;
    }
    *window += inc;
    if (*window > kMaxWindow) close(errc::flow_control, "window above 2^31-1");
}

std::vector<std::uint8_t> Core::take_output() {
    std::vector<std::uint8_t> out;
    poll_output(out, SIZE_MAX);
    return out;
}

// Streams are served round-robin, one frame each per pass, resuming where the last call stopped, so a
// bulk transfer cannot starve a small stream; a message queued on an idle stream goes out in the next
// pass, ahead of the rest of the bulk.
void Core::poll_output(std::vector<std::uint8_t>& out, std::size_t max_bytes) {
    out.clear();
    control_.move_into(out);
    if (closed_ || !established()) return;
    bool progress = true;
    while (progress && !closed_ && out.size() < max_bytes) {
        progress = false;
        auto it = streams_.lower_bound(next_to_serve_);
        for (std::size_t visits = streams_.size(); visits > 0 && !closed_ && out.size() < max_bytes;
             --visits) {
            if (streams_.empty()) break;
            if (it == streams_.end()) it = streams_.begin();
            Stream& s = it->second;
            ++it;
            next_to_serve_ = it == streams_.end() ? 0 : it->first;
            progress |= frame_data(s, out);
            if (s.local_ended && s.remote_ended) maybe_close_stream(s);  // erases s only
        }
    }
    control_.move_into(out);  // anything closing a stream queued
}

bool Core::frame_data(Stream& s, std::vector<std::uint8_t>& out) {
    if (s.local_ended) return false;
    const std::int64_t credit = std::min(s.send_window, session_send_window_);
    if (s.pending_size > 0 && credit > 0) {
        const std::size_t n =
            std::min<std::size_t>({s.pending_size, static_cast<std::size_t>(credit), peer_.max_frame_size});
        const bool last = n == s.pending_size && s.local_end_queued;
        const auto header =
            encode_header({wire_version, FrameType::data, last ? flags::end_stream : std::uint8_t{0}, s.id,
                           static_cast<std::uint32_t>(n)});
        out.insert(out.end(), header.begin(), header.end());
        for (std::size_t left = n; left > 0;) {
            const auto& chunk = s.pending.front();
            const std::size_t take = std::min(left, chunk.size() - s.pending_offset);
            const auto from = chunk.begin() + static_cast<std::ptrdiff_t>(s.pending_offset);
            out.insert(out.end(), from, from + static_cast<std::ptrdiff_t>(take));
            s.pending_offset += take;
            left -= take;
            if (s.pending_offset == chunk.size()) {
                s.pending.pop_front();
                s.pending_offset = 0;
            }
        }
        s.pending_size -= n;
        s.send_window -= static_cast<std::int64_t>(n);
        session_send_window_ -= static_cast<std::int64_t>(n);
        if (last) s.local_ended = true;
        return true;
    }
    if (s.pending_size == 0 && s.local_end_queued) {
        const auto header = encode_header({wire_version, FrameType::data, flags::end_stream, s.id, 0});
        out.insert(out.end(), header.begin(), header.end());
        s.local_ended = true;
        return true;
    }
    return false;
}

std::error_code Core::send_message(std::uint32_t id, std::span<const std::uint8_t> body) {
    if (closed_) return errc::closed;
    Stream* s = find_stream(id);
    if (s == nullptr) return errc::stream_reset;
    if (s->local_end_queued) return errc::protocol_violation;
    if (body.size() > peer_.max_message_size) return errc::message_too_large;
    std::vector<std::uint8_t> chunk;
    chunk.reserve(message_prefix_size + body.size());
    append_message(chunk, body);
    s->pending_size += chunk.size();
    s->pending.push_back(std::move(chunk));
    return {};
}

std::error_code Core::finish(std::uint32_t id) {
    if (closed_) return errc::closed;
    Stream* s = find_stream(id);
    if (s == nullptr) return errc::stream_reset;
    s->local_end_queued = true;
    return {};
}

std::size_t Core::pending_bytes(std::uint32_t id) const {
    auto it = streams_.find(id);
    return it == streams_.end() ? 0 : it->second.pending_size;
}

void Core::on_ping(const Frame& f, Time now) {
    if (f.header.stream_id != 0 || f.payload.size() != 8) {
        close(errc::bad_frame, "PING must be 8 bytes on stream 0");
        return;
    }
    if ((f.header.flags & flags::ack) == 0) {
        send_frame(FrameType::ping, flags::ack, 0, f.payload);  // a control frame: ahead of queued DATA
        return;
    }
    // Only the answer to our outstanding PING is a sample; an unsolicited PONG or one with another value is
    // ignored. A peer can still delay its answers (the RTT looks larger: windows may grow sooner, up to the
    // caps and the budget) but cannot push a sample below the true RTT without guessing the random value.
    if (!ping_out_ || !std::equal(f.payload.begin(), f.payload.end(), ping_out_->opaque.begin())) return;
    const Time sent = ping_out_->sent;
    rtt_.add_sample(now - sent);
    ping_out_.reset();
    limit_by_delay(now - sent, sent, now);
    push({.kind = Event::Kind::pong});
}

void Core::probe_rtt(Time now, bool replace) {
    if (closed_) return;
    last_probe_ = now;
    // One PING at a time; one unanswered for ping_timeout is given up (its PONG no longer counts). An
    // explicit PING replaces an outstanding probe, so that its PONG, and the sample, are its own.
    if (!replace && ping_out_ && now - ping_out_->sent < local_.ping_timeout) return;
    OutstandingPing p{{}, now};
    fill_random(p.opaque);
    send_frame(FrameType::ping, 0, 0, p.opaque);
    ping_out_ = p;
}

// With delay-limited credit the rule needs a sample about every round trip while data flows; without it,
// one per rtt_ping_interval feeds auto-tuning. One PING is outstanding at most either way.
Time Core::probe_interval() const {
    const Time cap = local_.rtt_ping_interval;
    if (local_.queue_delay_target.count() == 0) return cap;
    const auto srtt = rtt_.smoothed();
    if (!srtt) return cap;
    return std::clamp<Time>(*srtt, std::chrono::milliseconds(5),
                            std::max<Time>(cap, std::chrono::milliseconds(5)));
}

// Delay-limited credit (docs/protocol.md section 6). Auto-tuning grows a bulk stream's window until the
// window, not the reader, no longer limits the rate; on a path with a deep queue in front of its bottleneck
// (bufferbloat, or bench/run's emulator) everything above the bandwidth-delay product then waits in that
// queue, and so does every small request behind it: at 50 ms and 100 MiB/s a 16 MiB window parks 11 MiB,
// 110 ms, in front of a 1 KiB reply. A window-limited sender moves `allowed` bytes per RTT, so cutting the
// allowance by goal / sample (goal = min RTT + queue_delay_target) leaves about goal x rate in flight: the
// path's BDP plus the target's worth of queue (the proportional step of TCP Vegas and LEDBAT, applied to
// credit instead of a congestion window). Below min RTT + target / 2 the allowance grows by the same ratio
// (at most 2x) until it reaches the window and the rule lets go. After a cut, samples of PINGs sent before
// the queue it found has drained (the cut's time + that queue's delay) are not used: they measure credit
// given before the cut, and cutting again for them would undershoot the path. Only streams whose window
// grew are limited (a small stream never adds a queue), and never below the initial window.
void Core::limit_by_delay(Time sample, Time sent, Time now) {
    const Time target = local_.queue_delay_target;
    const auto min_rtt = rtt_.min();
    if (target.count() == 0 || !min_rtt) return;
    const double goal = static_cast<double>((*min_rtt + target).count());
    const double s = static_cast<double>(std::max<Time>(sample, Time(1)).count());
    const std::uint64_t floor = local_.initial_stream_window;
    for (auto& [id, stream] : streams_) {
        RecvWindow& w = stream.recv;
        if (stream.remote_ended || w.size <= floor) continue;
        if (w.delay_limit != 0 && sent < w.delay_settled) continue;
        const std::uint64_t allowed = w.delay_limit != 0 ? std::min(w.size, w.delay_limit) : w.size;
        if (s > goal) {
            w.delay_limit = std::max<std::uint64_t>(
                floor, static_cast<std::uint64_t>(static_cast<double>(allowed) * (goal / s)));
            w.delay_settled = now + (sample - *min_rtt);
            ++delay_cuts_;
        } else if (w.delay_limit != 0 && 2 * s < goal + static_cast<double>(min_rtt->count())) {
            const auto grown =
                static_cast<std::uint64_t>(static_cast<double>(allowed) * std::min(2.0, goal / s));
            w.delay_limit = grown >= w.size ? 0 : grown;
            w.delay_settled = now;
            top_up(w, id);
        }
    }
}

// Keepalive and RTT share the PING: the keepalive only adds the deadline by which bytes must arrive.
void Core::send_ping(Time now) {
    if (closed_ || ping_deadline_) return;
    ping_deadline_ = now + std::chrono::duration_cast<Time>(local_.ping_timeout);
    probe_rtt(now, true);
}

void Core::watch_progress(std::uint32_t id, Time now) {
    Stream* s = find_stream(id);
    if (s == nullptr || s->remote_ended) return;
    s->progress_start = now;
    s->progress_bytes = 0;
}

// The stall rule is judged only while the peer could have sent: we gave it credit on the stream and the
// session, and the application took everything delivered. Otherwise the slowness is ours (a slow reader)
// and a new window starts.
void Core::check_progress(Stream& s, Time now) {
    if (s.remote_ended) {
        s.progress_start.reset();
        return;
    }
    const bool held_back_by_us = s.recv.undelivered > 0 || s.recv.credit <= 0 || session_recv_.credit <= 0;
    const double seconds = std::chrono::duration<double>(now - *s.progress_start).count();
    const double rate = seconds > 0 ? static_cast<double>(s.progress_bytes) / seconds : 0.0;
    if (!held_back_by_us && rate < static_cast<double>(local_.min_stream_rate)) {
        char message[192];
        std::snprintf(message, sizeof message,
                      "stream stalled: %llu bytes in %.1f s (%.0f B/s), below min_stream_rate %u B/s",
                      static_cast<unsigned long long>(s.progress_bytes), seconds, rate,
                      local_.min_stream_rate);
        reset(s.id, errc::stalled, message);
        return;
    }
    s.progress_start = now;
    s.progress_bytes = 0;
}

FlowStats Core::flow_stats() const {
    std::uint64_t queued = control_.size();
    for (const auto& [id, s] : streams_) queued += s.pending_size;
    return {.smoothed_rtt = rtt_.smoothed(),
            .min_rtt = rtt_.min(),
            .rtt_samples = rtt_.samples(),
            .session_window = session_recv_.size,
            .largest_stream_window = largest_stream_window_,
            .growth_refused = growth_refused_,
            .delay_cuts = delay_cuts_,
            .queued_bytes = queued,
            .window_ramp = window_ramp_};
}

}  // namespace cyxp2p::protocol::detail
