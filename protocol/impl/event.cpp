#include <cyxp2p/protocol/event.hpp>

namespace cyxp2p::protocol {

const char* to_string(Event::Kind k) noexcept {
    switch (k) {
        case Event::Kind::authenticated:
            return "authenticated";
        case Event::Kind::ready:
            return "ready";
        case Event::Kind::rejected:
            return "rejected";
        case Event::Kind::stream_opened:
            return "stream_opened";
        case Event::Kind::stream_refused:
            return "stream_refused";
        case Event::Kind::message:
            return "message";
        case Event::Kind::stream_end:
            return "stream_end";
        case Event::Kind::stream_accepted:
            return "stream_accepted";
        case Event::Kind::stream_reset:
            return "stream_reset";
        case Event::Kind::stream_closed:
            return "stream_closed";
        case Event::Kind::reauthenticated:
            return "reauthenticated";
        case Event::Kind::going_away:
            return "going_away";
        case Event::Kind::pong:
            return "pong";
        case Event::Kind::closed:
            return "closed";
        case Event::Kind::admission:
            return "admission";
    }
    return "unknown";
}

const char* AdmissionRequest::nonce_scope() const noexcept {
    switch (step) {
        case Step::hello:
            return "hello:";
        case Step::reauth:
            return "reauth:";
        case Step::open:
            return "open:";
    }
    return "open:";
}

}  // namespace cyxp2p::protocol
