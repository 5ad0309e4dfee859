#include <algorithm>
#include <utility>

#include <openssl/rand.h>

#include <cyxp2p/protocol/detail/core.hpp>

#include "wire.pb.h"

namespace cyxp2p::protocol::detail {
namespace {

std::chrono::milliseconds retry_after(const wire::Error& e, const TextLimits& l) {
    return std::chrono::milliseconds(
        std::min<std::uint64_t>(e.retry_after_ms(), static_cast<std::uint64_t>(l.max_retry_after.count())));
}

}  // namespace

bool clean_text(const std::string& s, std::size_t max) {
    if (s.size() > max) return false;
    // UTF-8 well-formedness (RFC 3629 section 4), no C0 controls or DEL.
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7F) return false;
            ++i;
            continue;
        }
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else
            return false;
        for (std::size_t k = 1; k <= n; ++k) {
            if (i + k >= s.size()) return false;
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        const std::uint32_t min = n == 1 ? 0x80 : n == 2 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

std::chrono::milliseconds to_ms(std::chrono::nanoseconds d) {
    return std::chrono::ceil<std::chrono::milliseconds>(d);
}

Core::Core(const SessionLimits& local, Now now, WindowBudget* budget)
    : local_(local),
      peer_(),
      decoder_(local.max_frame_size, true),
      session_send_window_(SessionLimits{}.initial_session_window),
      session_recv_{local.initial_session_window, local.initial_session_window, 0, 0, now.mono},
      budget_(budget),
      largest_stream_window_(local.initial_stream_window),
      pool_(local.message_pool_bytes),
      latest_(now),
      last_receive_(now.mono) {
    // A cap below the initial window means "do not grow".
    local_.max_stream_window = std::max(local_.max_stream_window, local_.initial_stream_window);
    local_.max_session_window = std::max(local_.max_session_window, local_.initial_session_window);
}

Core::~Core() {
    release_budget();
}

void Core::fill_random(std::span<std::uint8_t> out) {
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
        // Without randomness the PING value is only predictable, not unsafe: a peer that answers early makes
        // the RTT look smaller, which only slows window growth.
        std::fill(out.begin(), out.end(), std::uint8_t{0});
    }
}

void Core::receive(std::span<const std::uint8_t> bytes, Now now) {
    if (closed_) return;
    latest_ = now;
    last_receive_ = now.mono;
    ping_deadline_.reset();  // any bytes prove the peer alive
    if (input_paused()) {
        decoder_.feed(bytes);  // held, copied: no frame is read until the check's verdict (resume_input)
        bound_held_input();
        return;
    }
    decoder_.borrow(bytes);  // DATA payloads go from `bytes` straight into their message buffers
    read_frames(now);
    // Closed or paused mid-input: the rest of `bytes` must not stay lent.
    if (closed_) {
        decoder_ = FrameDecoder(0);
    } else if (input_paused()) {
        decoder_.feed({});
        bound_held_input();
    }
}

// What a peer may send while a check is out: DATA within the credit it holds, plus a few control frames.
// More is a peer ignoring flow control; the bound keeps the held bytes to one session window.
void Core::bound_held_input() {
    const std::uint64_t bound = session_recv_.size + local_.max_frame_size + frame_header_size;
    if (decoder_.buffered() > bound) {
        close(errc::flow_control, "peer sent beyond its window while a request was being checked");
    }
}

void Core::resume_input(Now now) {
    if (closed_ || input_paused()) return;
    latest_ = now;
    read_frames(now);  // the decoder holds only its own bytes here (nothing lent)
}

void Core::read_frames(Now now) {
    while (!closed_ && !input_paused()) {
        std::error_code ec;
        auto f = decoder_.next(ec);
        if (ec) {
            close(static_cast<errc>(ec.value()), ec.message());
            return;
        }
        if (!f) break;
        dispatch(*f, now);
    }
    // RTT samples: one PING as soon as the session is established (HELLO_ACK already queued), then one per
    // probe_interval() while data flows; a quiet session only gets the engine's keepalive.
    if (!closed_ && established() &&
        (!last_probe_ || (flow_activity_ && now.mono - *last_probe_ >= probe_interval()))) {
        probe_rtt(now.mono, false);
    }
    flow_activity_ = false;
}

void Core::dispatch(const Frame& f, Now now) {
    const auto type = f.header.type;
    switch (type) {
        case FrameType::hello:
        case FrameType::hello_ack:
        case FrameType::open:
        case FrameType::reauth:
        case FrameType::reauth_ack:
        case FrameType::open_ack:
            on_control(f, now);
            return;
        case FrameType::error:
            if (f.header.stream_id == 0) {
                wire::Error e;
                if (!e.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size()))) {
                    close(errc::bad_message, "malformed ERROR frame");
                    return;
                }
                on_peer_error(from_wire(e.code()),
                              clean_text(e.message(), local_.text.error_message) ? e.message() : "",
                              clean_text(e.detail(), local_.text.error_detail) ? e.detail() : "",
                              retry_after(e, local_.text));
                return;
            }
            if (!established()) break;
            on_stream_error(f);
            return;
        case FrameType::data:
            if (!established()) break;
            on_data(f);
            return;
        case FrameType::window_update:
            if (!established()) break;
            on_window_update(f);
            return;
        case FrameType::ping:
            if (f.header.stream_id != 0 || f.payload.size() != 8) {
                close(errc::bad_frame, "PING must be 8 bytes on stream 0");
                return;
            }
            on_ping(f, now.mono);
            return;
        case FrameType::goaway: {
            wire::GoAway g;
            if (f.header.stream_id != 0 ||
                !g.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size()))) {
                close(errc::bad_message, "malformed GOAWAY frame");
                return;
            }
            goaway_received_ = true;
            push({.kind = Event::Kind::going_away,
                  .error = make_error_code(from_wire(g.code())),
                  .detail = clean_text(g.message(), local_.text.error_message) ? g.message() : ""});
            return;
        }
        default:
            // docs/protocol.md: an unknown type is ignored unless flagged critical.
            if ((f.header.flags & flags::critical) != 0) {
                close(errc::unknown_critical_frame,
                      "unknown critical frame type " + std::to_string(static_cast<unsigned>(type)));
            }
            return;
    }
    close(errc::protocol_violation, "frame before the handshake completed");
}

void Core::on_stream_error(const Frame& f) {
    wire::Error e;
    if (!e.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size()))) {
        close(errc::bad_message, "malformed ERROR frame");
        return;
    }
    Stream* s = find_stream(f.header.stream_id);
    if (s == nullptr) return;  // already gone on our side
    const std::uint32_t id = s->id;
    drop_stream(id);
    push({.kind = Event::Kind::stream_reset,
          .stream_id = id,
          .error = make_error_code(from_wire(e.code())),
          .detail = clean_text(e.detail(), local_.text.error_detail) ? e.detail() : "",
          .retry_after = retry_after(e, local_.text),
          .message = clean_text(e.message(), local_.text.error_message) ? e.message() : ""});
    push({.kind = Event::Kind::stream_closed, .stream_id = id});
    check_drained();
}

void Core::on_peer_error(errc code, std::string message, std::string detail,
                         std::chrono::milliseconds retry) {
    closed_ = true;  // the peer closes after an ERROR on stream 0; we send nothing more
    push({.kind = Event::Kind::closed,
          .error = make_error_code(code),
          .detail = detail.empty() ? std::move(message) : std::move(detail),
          .retry_after = retry});
}

std::optional<Time> Core::next_timeout() const {
    if (closed_) return std::nullopt;
    std::optional<Time> t = last_receive_ + std::chrono::duration_cast<Time>(local_.idle_timeout);
    auto consider = [&](std::optional<Time> d) {
        if (d && (!t || *d < *t)) t = d;
    };
    consider(ping_deadline_);
    consider(drain_deadline_);
    consider(role_deadline());
    for (const auto& [id, s] : streams_) {
        if (s.progress_start)
            consider(*s.progress_start + std::chrono::duration_cast<Time>(local_.stall_window));
    }
    return t;
}

void Core::on_timeout(Now clocks) {
    if (closed_) return;
    latest_ = clocks;
    if (auto d = role_deadline(); d && clocks.mono >= *d) on_role_timeout(clocks);
    const Time now = clocks.mono;
    if (closed_) return;
    if (ping_deadline_ && now >= *ping_deadline_) {
        close(errc::ping_timeout, "no PONG within ping_timeout");
    } else if (drain_deadline_ && now >= *drain_deadline_) {
        close(errc::going_away, "drain deadline passed with streams open");
    } else if (now - last_receive_ >= local_.idle_timeout) {
        close(errc::idle_timeout, "nothing received within idle_timeout");
    }
    for (auto it = streams_.begin(); !closed_ && it != streams_.end();) {
        Stream& s = it->second;
        ++it;  // check_progress may reset (erase) s
        if (s.progress_start && now - *s.progress_start >= local_.stall_window) check_progress(s, now);
    }
}

void Core::send_frame(FrameType type, std::uint8_t fl, std::uint32_t stream,
                      std::span<const std::uint8_t> payload) {
    control_.append(type, fl, stream, payload);
}

void Core::send_control(FrameType type, std::uint32_t stream, const google::protobuf::MessageLite& m) {
    std::string bytes = m.SerializeAsString();
    send_frame(type, 0, stream, {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
}

void Core::send_stream_error(std::uint32_t stream, errc code, std::string_view message,
                             std::chrono::milliseconds retry_after, std::string_view detail) {
    wire::Error e;
    e.set_code(static_cast<std::uint32_t>(code));
    e.set_message(std::string(message));
    if (!detail.empty()) e.set_detail(std::string(detail));
    if (retry_after.count() > 0) e.set_retry_after_ms(static_cast<std::uint64_t>(retry_after.count()));
    send_control(FrameType::error, stream, e);
}

void Core::close(errc code, std::string_view message, std::string_view detail,
                 std::chrono::milliseconds retry_after) {
    if (closed_) return;
    wire::Error e;
    e.set_code(static_cast<std::uint32_t>(code));
    e.set_message(std::string(message));
    e.set_detail(std::string(detail));
    if (retry_after.count() > 0) e.set_retry_after_ms(static_cast<std::uint64_t>(retry_after.count()));
    send_control(FrameType::error, 0, e);
    closed_ = true;
    streams_.clear();
    reassembly_bytes_ = reserved_bytes_ = 0;
    release_budget();
    push({.kind = Event::Kind::closed,
          .error = make_error_code(code),
          .detail = detail.empty() ? std::string(message) : std::string(detail),
          .retry_after = retry_after});
}

void Core::go_away(errc code, std::string_view message, Time now) {
    if (closed_ || drain_deadline_) return;
    wire::GoAway g;
    g.set_last_stream_id(highest_stream_id_);
    g.set_code(static_cast<std::uint32_t>(code));
    g.set_message(std::string(message));
    send_control(FrameType::goaway, 0, g);
    drain_deadline_ = now + std::chrono::duration_cast<Time>(local_.drain_timeout);
    check_drained();
}

void Core::check_drained() {
    if (drain_deadline_ && streams_.empty() && !closed_) {
        closed_ = true;  // orderly: GOAWAY already told the peer why
        push({.kind = Event::Kind::closed});
    }
}

void Core::set_peer_limits(const wire::Limits& l) {
    const SessionLimits d{};
    peer_.max_frame_size = l.max_frame_size() != 0
                               ? std::clamp<std::uint32_t>(l.max_frame_size(), 1024, max_frame_size_ceiling)
                               : d.max_frame_size;
    peer_.max_message_size = l.max_message_size() != 0 ? l.max_message_size() : d.max_message_size;
    peer_.max_concurrent_streams =
        l.max_concurrent_streams() != 0 ? l.max_concurrent_streams() : d.max_concurrent_streams;
    peer_.initial_stream_window = l.initial_stream_window() != 0
                                      ? std::min<std::uint32_t>(l.initial_stream_window(), kMaxWindow)
                                      : d.initial_stream_window;
    peer_.initial_session_window = l.initial_session_window() != 0
                                       ? std::min<std::uint32_t>(l.initial_session_window(), kMaxWindow)
                                       : d.initial_session_window;
    peer_.max_session_bytes = l.max_session_bytes() != 0 ? l.max_session_bytes() : d.max_session_bytes;
    session_send_window_ = peer_.initial_session_window;
}

void Core::fill_limits(wire::Limits& l) const {
    l.set_max_frame_size(local_.max_frame_size);
    l.set_max_message_size(local_.max_message_size);
    l.set_max_concurrent_streams(local_.max_concurrent_streams);
    l.set_initial_stream_window(local_.initial_stream_window);
    l.set_initial_session_window(local_.initial_session_window);
    l.set_max_session_bytes(local_.max_session_bytes);
}

Stream& Core::add_stream(std::uint32_t id, Time now) {
    highest_stream_id_ = std::max(highest_stream_id_, id);
    auto [it, inserted] =
        streams_.try_emplace(id, id, peer_.initial_stream_window, local_.initial_stream_window,
                             local_.max_message_size, now, &pool_);
    return it->second;
}

Stream* Core::find_stream(std::uint32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : &it->second;
}

void Core::mark_established(Time now) {
    established_seen_ = true;
    last_receive_ = now;
    session_recv_.epoch_start = now;
}

void Core::drop_stream(std::uint32_t id) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    reassembly_bytes_ -= std::min<std::uint64_t>(reassembly_bytes_, it->second.reader.buffered());
    reserved_bytes_ -= std::min<std::uint64_t>(reserved_bytes_, it->second.reader.reserved());
    streams_.erase(it);
    if (streams_.empty()) shrink_session();
}

void Core::reset(std::uint32_t id, errc code, std::string_view message, std::chrono::milliseconds retry_after,
                 std::string_view detail) {
    Stream* s = find_stream(id);
    if (s == nullptr || closed_) return;
    send_stream_error(id, code, message, retry_after, detail);
    drop_stream(id);
    push({.kind = Event::Kind::stream_reset,
          .stream_id = id,
          .error = make_error_code(code),
          .detail = std::string(detail),
          .retry_after = retry_after,
          .message = std::string(message),
          .local = true});
    push({.kind = Event::Kind::stream_closed, .stream_id = id});
    check_drained();
}

void Core::maybe_close_stream(Stream& s) {
    if (!(s.local_ended && s.remote_ended)) return;
    const std::uint32_t id = s.id;
    drop_stream(id);
    push({.kind = Event::Kind::stream_closed, .stream_id = id});
    check_drained();
}

}  // namespace cyxp2p::protocol::detail
