#include <algorithm>
#include <utility>

#include <cyxp2p/protocol/detail/core.hpp>

#include "wire.pb.h"

namespace cyxp2p::protocol::detail {
namespace {

std::uint32_t get32(std::span<const std::uint8_t> p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

std::array<std::uint8_t, 4> put32(std::uint32_t v) {
    return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
            static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

// Flow-control windows never exceed 2^31 - 1 (as in HTTP/2, RFC 9113 6.9.1).
constexpr std::int64_t kMaxWindow = 0x7FFFFFFF;

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

Core::Core(const SessionLimits& local, Time now)
    : local_(local),
      peer_(),
      decoder_(local.max_frame_size),
      session_send_window_(SessionLimits{}.initial_session_window),
      session_recv_window_(local.initial_session_window),
      last_receive_(now) {}

void Core::receive(std::span<const std::uint8_t> bytes, Time now) {
    if (closed_) return;
    last_receive_ = now;
    ping_deadline_.reset();  // any bytes prove the peer alive
    decoder_.feed(bytes);
    while (!closed_) {
        std::error_code ec;
        auto f = decoder_.next(ec);
        if (ec) {
            close(static_cast<errc>(ec.value()), ec.message());
            return;
        }
        if (!f) break;
        dispatch(*f, now);
    }
    flush();
}

void Core::dispatch(const Frame& f, Time now) {
    const auto type = f.header.type;
    switch (type) {
        case FrameType::hello:
        case FrameType::hello_ack:
        case FrameType::open:
        case FrameType::reauth:
        case FrameType::reauth_ack:
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
            if ((f.header.flags & flags::ack) != 0) {
                push({.kind = Event::Kind::pong});
            } else {
                send_frame(FrameType::ping, flags::ack, 0, f.payload);
            }
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

// Flow control (docs/protocol.md, "Flow control"): the receiver grants credit back only as the application
// takes messages (poll_event), so a peer that ignores its window is caught, and what one session can make us
// hold is bounded by the windows plus one partial message per stream. Each message is charged at least
// kMessageCharge bytes, so a flood of empty messages cannot queue events for free.
constexpr std::uint64_t kMessageCharge = 64;

void Core::on_data(const Frame& f) {
    const std::uint32_t id = f.header.stream_id;
    const auto n = static_cast<std::int64_t>(f.payload.size());
    session_recv_window_ -= n;
    if (session_recv_window_ < 0) {
        close(errc::flow_control, "DATA beyond the session window");
        return;
    }
    received_data_bytes_ += f.payload.size();
    if (received_data_bytes_ > local_.max_session_bytes) {
        close(errc::byte_limit, "session byte limit reached");
        return;
    }
    Stream* s = find_stream(id);
    if (s == nullptr) {
        // A stream we reset may still have DATA in flight: it used session credit, which we give back at
        // once (dropped bytes are never undelivered, so replenish() grants them to the peer again; restoring
        // our own window without telling the peer would shrink its session window for good); ids never
        // opened are a violation.
        if (id == 0 || id > highest_stream_id_) {
            close(errc::protocol_violation, "DATA on a stream never opened");
            return;
        }
        replenish(nullptr);
        return;
    }
    if (s->remote_ended) {
        close(errc::protocol_violation, "DATA after END_STREAM");
        return;
    }
    s->recv_window -= n;
    if (s->recv_window < 0) {
        close(errc::flow_control, "DATA beyond the stream window");
        return;
    }
    const std::size_t held_before = s->reader.buffered();
    const auto feed_error = s->reader.feed(f.payload);
    reassembly_bytes_ += s->reader.buffered() - held_before;
    if (feed_error) {
        reset(id, errc::message_too_large, "message larger than max_message_size");
        return;
    }
    while (auto body = s->reader.next()) {
        reassembly_bytes_ -= body->size() + message_prefix_size;
        const std::uint64_t charge =
            std::max<std::uint64_t>(body->size() + message_prefix_size, kMessageCharge);
        s->undelivered += charge;
        session_undelivered_ += charge;
        push({.kind = Event::Kind::message, .stream_id = id, .body = std::move(*body)});
    }
    // What this frame left in the reader counts against the session's reassembly budget.
    if (reassembly_bytes_ > local_.max_reassembly_bytes) {
        reset(id, errc::message_too_large, "incomplete messages exceed the session's reassembly budget");
        return;
    }
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

// Sends WINDOW_UPDATEs so that the peer may have `initial window - undelivered` in flight, once that is at
// least half a window more than it has now. Bytes of an incomplete message do not count as undelivered: the
// message cannot be delivered before its end arrives, so withholding credit for it would deadlock.
void Core::replenish(Stream* s) {
    if (closed_) return;
    auto top_up = [&](std::int64_t& window, std::uint64_t initial, std::uint64_t undelivered,
                      std::uint32_t stream) {
        const auto target =
            static_cast<std::int64_t>(initial) - static_cast<std::int64_t>(std::min(undelivered, initial));
        const std::int64_t grant = target - window;
        if (grant > 0 && (grant >= static_cast<std::int64_t>(initial / 2) || window <= 0)) {
            window += grant;
            send_frame(FrameType::window_update, 0, stream, put32(static_cast<std::uint32_t>(grant)));
        }
    };
    top_up(session_recv_window_, local_.initial_session_window, session_undelivered_, 0);
    if (s != nullptr && !s->remote_ended) {
        top_up(s->recv_window, local_.initial_stream_window, s->undelivered, s->id);
    }
}

void Core::on_window_update(const Frame& f) {
    if (f.payload.size() != 4) {
        close(errc::bad_frame, "WINDOW_UPDATE must be 4 bytes");
        return;
    }
    const std::uint32_t inc = get32(f.payload);
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
          .detail = clean_text(e.message(), local_.text.error_message) ? e.message() : "",
          .retry_after = retry_after(e, local_.text)});
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

std::vector<std::uint8_t> Core::take_output() {
    return encoder_.take();
}

std::optional<Event> Core::poll_event() {
    if (events_.empty()) return std::nullopt;
    Event e = std::move(events_.front());
    events_.pop_front();
    if (e.kind == Event::Kind::message) {
        // The application took the message: its credit goes back to the peer.
        const std::uint64_t charge =
            std::max<std::uint64_t>(e.body.size() + message_prefix_size, kMessageCharge);
        session_undelivered_ -= std::min(charge, session_undelivered_);
        Stream* s = find_stream(e.stream_id);
        if (s != nullptr) s->undelivered -= std::min(charge, s->undelivered);
        replenish(s);
    }
    return e;
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
    return t;
}

void Core::on_timeout(Time now) {
    if (closed_) return;
    if (auto d = role_deadline(); d && now >= *d) on_role_timeout(now);
    if (closed_) return;
    if (ping_deadline_ && now >= *ping_deadline_) {
        close(errc::ping_timeout, "no PONG within ping_timeout");
    } else if (drain_deadline_ && now >= *drain_deadline_) {
        close(errc::going_away, "drain deadline passed with streams open");
    } else if (now - last_receive_ >= local_.idle_timeout) {
        close(errc::idle_timeout, "nothing received within idle_timeout");
    }
    flush();
}

void Core::send_frame(FrameType type, std::uint8_t fl, std::uint32_t stream,
                      std::span<const std::uint8_t> payload) {
    encoder_.append(type, fl, stream, payload);
}

void Core::send_control(FrameType type, std::uint32_t stream, const google::protobuf::MessageLite& m) {
    std::string bytes = m.SerializeAsString();
    send_frame(type, 0, stream, {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
}

void Core::send_stream_error(std::uint32_t stream, errc code, std::string_view message,
                             std::chrono::milliseconds retry_after) {
    wire::Error e;
    e.set_code(static_cast<std::uint32_t>(code));
    e.set_message(std::string(message));
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
    reassembly_bytes_ = 0;
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

void Core::send_ping(Time now) {
    if (closed_ || ping_deadline_) return;
    std::array<std::uint8_t, 8> opaque{};
    const auto t = static_cast<std::uint64_t>(now.count());
    for (int i = 0; i < 8; ++i)
        opaque[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(t >> (56 - 8 * i));
    send_frame(FrameType::ping, 0, 0, opaque);
    ping_deadline_ = now + std::chrono::duration_cast<Time>(local_.ping_timeout);
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

Stream& Core::add_stream(std::uint32_t id) {
    highest_stream_id_ = std::max(highest_stream_id_, id);
    auto [it, inserted] = streams_.try_emplace(id, id, peer_.initial_stream_window,
                                               local_.initial_stream_window, local_.max_message_size);
    return it->second;
}

Stream* Core::find_stream(std::uint32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : &it->second;
}

void Core::mark_established(Time now) {
    established_seen_ = true;
    last_receive_ = now;
}

std::error_code Core::send_message(std::uint32_t id, std::span<const std::uint8_t> body) {
    if (closed_) return errc::closed;
    Stream* s = find_stream(id);
    if (s == nullptr) return errc::stream_reset;
    if (s->local_end_queued) return errc::protocol_violation;
    if (body.size() > peer_.max_message_size) return errc::message_too_large;
    append_message(s->pending, body);
    flush();
    return {};
}

std::error_code Core::finish(std::uint32_t id) {
    if (closed_) return errc::closed;
    Stream* s = find_stream(id);
    if (s == nullptr) return errc::stream_reset;
    s->local_end_queued = true;
    flush();
    return {};
}

void Core::drop_stream(std::uint32_t id) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    reassembly_bytes_ -= std::min<std::uint64_t>(reassembly_bytes_, it->second.reader.buffered());
    streams_.erase(it);
}

void Core::reset(std::uint32_t id, errc code, std::string_view message) {
    Stream* s = find_stream(id);
    if (s == nullptr || closed_) return;
    send_stream_error(id, code, message);
    drop_stream(id);
    push({.kind = Event::Kind::stream_reset,
          .stream_id = id,
          .error = make_error_code(code),
          .detail = std::string(message)});
    push({.kind = Event::Kind::stream_closed, .stream_id = id});
    check_drained();
}

std::size_t Core::pending_bytes(std::uint32_t id) const {
    auto it = streams_.find(id);
    return it == streams_.end() ? 0 : it->second.pending.size() - it->second.pending_offset;
}

// Frames whatever the windows allow, stream by stream (round-robin by id order, one frame each per pass) so
// a bulk transfer cannot starve a small stream.
void Core::flush() {
    if (closed_ || !established()) return;
    bool progress = true;
    while (progress) {
        progress = false;
        for (auto it = streams_.begin(); it != streams_.end();) {
            Stream& s = it->second;
            ++it;
            const std::size_t left = s.pending.size() - s.pending_offset;
            const std::int64_t credit = std::min(s.send_window, session_send_window_);
            if (left > 0 && credit > 0) {
                const std::size_t n =
                    std::min<std::size_t>({left, static_cast<std::size_t>(credit), peer_.max_frame_size});
                const bool last = n == left && s.local_end_queued;
                send_frame(FrameType::data, last ? flags::end_stream : 0, s.id,
                           {s.pending.data() + s.pending_offset, n});
                s.pending_offset += n;
                s.send_window -= static_cast<std::int64_t>(n);
                session_send_window_ -= static_cast<std::int64_t>(n);
                if (s.pending_offset == s.pending.size()) {
                    s.pending.clear();
                    s.pending_offset = 0;
                } else if (s.pending_offset > (64U << 10)) {
                    s.pending.erase(s.pending.begin(),
                                    s.pending.begin() + static_cast<std::ptrdiff_t>(s.pending_offset));
                    s.pending_offset = 0;
                }
                if (last) s.local_ended = true;
                progress = true;
            } else if (left == 0 && s.local_end_queued && !s.local_ended) {
                send_frame(FrameType::data, flags::end_stream, s.id, {});
                s.local_ended = true;
                progress = true;
            }
            if (s.local_ended && s.remote_ended) maybe_close_stream(s);  // may erase s
        }
    }
}

void Core::maybe_close_stream(Stream& s) {
    if (!(s.local_ended && s.remote_ended)) return;
    const std::uint32_t id = s.id;
    drop_stream(id);
    push({.kind = Event::Kind::stream_closed, .stream_id = id});
    check_drained();
}

}  // namespace cyxp2p::protocol::detail
