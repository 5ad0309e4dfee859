// What a TLS connection negotiated, for diagnostics (p2p-probe connect) and audit.
#pragma once

#include <string>

namespace cyxp2p::net {

struct TlsInfo {
    std::string version;   // "TLSv1.3"
    std::string cipher;    // "TLS_AES_128_GCM_SHA256"
    std::string group;     // "X25519"
    std::string alpn;      // "cyx-p2p/1"
    std::string peer_pin;  // sha256//... of the peer's certificate key
    bool resumed = false;  // TLS session resumption was used
};

}  // namespace cyxp2p::net
