// TLS material for the rediss:// tests, made by the openssl command line in a fresh temporary directory:
// a CA, a server certificate for DNS:localhost signed by it, a client certificate signed by it (mutual
// TLS), and a second, unrelated CA (the "wrong CA"). Plus the redis-server arguments for a TLS port on
// loopback next to the unix socket tests/support/redis_server.hpp always opens.
#pragma once

#include <unistd.h>

#include <stdexcept>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "support.hpp"

namespace cyxp2p::test {

class RedisTlsFiles {
  public:
    RedisTlsFiles() {
        make_ca("ca", "cyxp2p test Redis CA");
        make_ca("other-ca", "cyxp2p unrelated CA");
        make_leaf("server", "localhost", "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n");
        make_leaf("client", "fleet-node", "extendedKeyUsage=clientAuth\n");
    }
    std::string ca() const { return file("ca.crt"); }
    std::string other_ca() const { return file("other-ca.crt"); }
    std::string server_cert() const { return file("server.crt"); }
    std::string server_key() const { return file("server.key"); }
    std::string client_cert() const { return file("client.crt"); }
    std::string client_key() const { return file("client.key"); }

    /// redis-server arguments: TLS on 127.0.0.1:`port`, the plain TCP port off; client certificates
    /// required when `auth_clients`.
    std::vector<std::string> server_args(std::uint16_t port, bool auth_clients) const {
        return {"--tls-port",
                std::to_string(port),
                "--bind",
                "127.0.0.1",
                "--tls-cert-file",
                server_cert(),
                "--tls-key-file",
                server_key(),
                "--tls-ca-cert-file",
                ca(),
                "--tls-auth-clients",
                auth_clients ? "yes" : "no"};
    }

  private:
    TempDir dir_;
    std::string file(const std::string& name) const { return (dir_ / name).string(); }
    void openssl(const std::vector<std::string>& args) {
        std::vector<std::string> argv{"openssl"};
        argv.insert(argv.end(), args.begin(), args.end());
        const auto r = run(argv);
        if (r.exit_code != 0) throw std::runtime_error("openssl failed: " + r.err);
    }
    void make_ca(const std::string& name, const std::string& cn) {
        openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                 file(name + ".key"), "-out", file(name + ".crt"), "-days", "2", "-subj", "/CN=" + cn});
        ::chmod(file(name + ".key").c_str(), 0600);
    }
    void make_leaf(const std::string& name, const std::string& cn, const std::string& extensions) {
        write_file(dir_ / (name + ".ext"), extensions);
        openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                 file(name + ".key"), "-out", file(name + ".csr"), "-subj", "/CN=" + cn});
        openssl({"x509", "-req", "-in", file(name + ".csr"), "-CA", ca(), "-CAkey", file("ca.key"),
                 "-CAcreateserial", "-out", file(name + ".crt"), "-days", "2", "-extfile",
                 file(name + ".ext")});
        ::chmod(file(name + ".key").c_str(), 0600);
    }
};

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read back, closed).
inline std::uint16_t free_loopback_port() {
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (s < 0 || ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        throw std::runtime_error("no free loopback port");
    ::close(s);
    return ntohs(a.sin_port);
}

}  // namespace cyxp2p::test
