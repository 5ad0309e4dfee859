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
    }
    return "unknown";
}

}  // namespace cyxp2p::net
