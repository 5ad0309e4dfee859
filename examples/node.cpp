// A node in 40 lines: serve one method to engines holding a valid P2P token.
//   example-node DIR    writes DIR/port, DIR/pin, DIR/token (for example-engine), serves until stdin closes.
#include <chrono>
#include <fstream>
#include <iostream>

#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/net/node.hpp>
#include <cyxp2p/protocol/body.hpp>

using namespace cyxp2p;

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    const std::string dir = argv[1];
    std::error_code ec;
    auto identity = pinning::Identity::generate({.node_id = "example-node"}, ec);
    auto central = auth::Jwk::generate(auth::Algorithm::eddsa, "central");  // the Central Server's key
    auto keys = std::make_shared<auth::Keyring>();
    if (!identity || keys->add(central)) return 1;

    net::NodeOptions options{.identity = *identity, .keys = keys};
    net::Node node(std::move(options));
    node.handle_unary("job.submit", "job:execute", [](const net::Request& r, std::error_code& e) {
        auto job = protocol::decode_job_submit(r.body, e);
        return protocol::encode(protocol::Outcome{true, "", job ? "accepted " + job->job_id : ""});
    });
    if ((ec = node.start())) return std::cerr << ec.message() << '\n', 1;

    // What the Central Server would hand the engine: the node's address, its pin, a token for it.
    auth::Claims c;
    c.subject = "example-user";
    c.node_id = node.node_id();
    c.session_id = "example-session";
    c.issued_at =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    c.expires_at = c.issued_at + 600;
    c.scope = {"job:execute"};
    std::ofstream(dir + "/port") << node.local_port();
    std::ofstream(dir + "/pin") << identity->pin().to_string();
    std::ofstream(dir + "/token") << auth::mint(c, central, ec).value_or("");
    std::cout << "ready" << std::endl;
    std::string line;
    std::getline(std::cin, line);  // until stdin closes
    node.stop();
    return 0;
}
