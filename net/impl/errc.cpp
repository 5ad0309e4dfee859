#include <string>

#include <cyxp2p/net/errc.hpp>

namespace cyxp2p::net {
namespace {

class Category final : public std::error_category {
  public:
    const char* name() const noexcept override { return "cyxp2p.net"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::connect_failed:
                return "could not connect: is the node running and the address right?";
            case errc::connect_timeout:
                return "TCP connect timed out: check the address and any firewall";
            case errc::tls_timeout:
                return "TLS handshake timed out";
            case errc::tls_failed:
                return "TLS handshake failed (not a pin mismatch): is this a cyx-p2p/1 node?";
            case errc::connection_refused_by_limit:
                return "the node closed the connection before TLS (it may be overloaded or limiting "
                       "connections): retry later";
            case errc::connection_lost:
                return "connection lost";
            case errc::not_connected:
                return "session is not connected";
            case errc::address_in_use:
                return "listen address already in use: pick another port or stop the other process";
            case errc::keys_bad_url:
                return "the JWKS URL must be https://HOST[:PORT]/PATH";
            case errc::keys_http_status:
                return "the key server did not answer 200 OK (redirects are not followed): check the URL";
            case errc::keys_too_large:
                return "the key server's response is larger than the JWKS size limit";
            case errc::keys_timeout:
                return "fetching the JWKS timed out: is the key server reachable?";
            case errc::keys_secret_refused:
                return "the published JWKS holds a symmetric (HS256) key, refused from a URL: a shared "
                       "secret must not be published (allow it with --keys-allow-secret)";
            case errc::node_id_changed:
                return "the new identity names another node_id: tokens are bound to the node_id, so a new "
                       "one "
                       "needs a restart";
            case errc::limits_out_of_range:
                return "a live limit is out of range (a rate the limiter cannot honour, a connection cap of "
                       "0 "
                       "or above the address table, or zero streams): the running limits stay";
            case errc::redis_bad_url:
                return "the Redis URL must be redis://HOST[:PORT][/DB], rediss://HOST[:PORT][/DB] or "
                       "unix:///PATH";
            case errc::redis_tls_file:
                return "a rediss:// CA, certificate or key file (--redis-ca-file, --redis-cert, --redis-key) "
                       "is unreadable, not PEM, or the key does not match the certificate or is readable by "
                       "group or others";
            case errc::redis_tls_failed:
                return "the TLS handshake with Redis failed: check that the port is Redis's tls-port, that "
                       "--redis-ca-file holds the CA of its certificate and that the certificate names the "
                       "URL's host, and give --redis-cert/--redis-key when it requires client certificates";
            case errc::redis_password_file:
                return "the Redis password file must be readable, non-empty and not readable by group or "
                       "others (chmod 600)";
            case errc::redis_unavailable:
                return "Redis is unreachable (the client reconnects with backoff) or overloaded";
            case errc::redis_timeout:
                return "Redis did not answer within the call deadline";
            case errc::redis_error:
                return "Redis answered with an error";
            case errc::no_source_left:
                return "no source could supply the rest of the content (every source was dropped; see each "
                       "source's error)";
            case errc::already_answered:
                return "this unary call was already answered: a Responder answers once";
            case errc::end_of_stream:
                return "the node finished the stream: every message it sent has been read";
            case errc::read_in_progress:
                return "a read is already pending on this stream: wait for its completion before reading "
                       "again";
        }
        return "unknown net error";
    }
};

}  // namespace

const std::error_category& category() noexcept {
    static const Category instance;
    return instance;
}

const char* to_string(errc e) noexcept {
    switch (e) {
        case errc::connect_failed:
            return "connect_failed";
        case errc::connect_timeout:
            return "connect_timeout";
        case errc::tls_timeout:
            return "tls_timeout";
        case errc::tls_failed:
            return "tls_failed";
        case errc::connection_refused_by_limit:
            return "connection_refused_by_limit";
        case errc::connection_lost:
            return "connection_lost";
        case errc::not_connected:
            return "not_connected";
        case errc::address_in_use:
            return "address_in_use";
        case errc::keys_bad_url:
            return "keys_bad_url";
        case errc::keys_http_status:
            return "keys_http_status";
        case errc::keys_too_large:
            return "keys_too_large";
        case errc::keys_timeout:
            return "keys_timeout";
        case errc::keys_secret_refused:
            return "keys_secret_refused";
        case errc::node_id_changed:
            return "node_id_changed";
        case errc::limits_out_of_range:
            return "limits_out_of_range";
        case errc::redis_bad_url:
            return "redis_bad_url";
        case errc::redis_tls_file:
            return "redis_tls_file";
        case errc::redis_tls_failed:
            return "redis_tls_failed";
        case errc::redis_password_file:
            return "redis_password_file";
        case errc::redis_unavailable:
            return "redis_unavailable";
        case errc::redis_timeout:
            return "redis_timeout";
        case errc::redis_error:
            return "redis_error";
        case errc::no_source_left:
            return "no_source_left";
        case errc::already_answered:
            return "already_answered";
        case errc::end_of_stream:
            return "end_of_stream";
        case errc::read_in_progress:
            return "read_in_progress";
    }
    return "unknown";
}

}  // namespace cyxp2p::net
