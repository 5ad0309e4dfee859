// An engine in 40 lines: connect to a pinned node with a token, submit a job, print the answer.
//   example-engine DIR    reads DIR/port, DIR/pin, DIR/token written by example-node.
#include <fstream>
#include <iostream>
#include <iterator>

#include <boost/asio/io_context.hpp>

#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/protocol/body.hpp>

using namespace cyxp2p;

static std::string slurp(const std::string& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), {}};
}

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    const std::string dir = argv[1];
    boost::asio::io_context io;
    net::Engine engine(io.get_executor());
    int rc = 1;
    engine.async_connect({.host = "127.0.0.1",
                          .port = static_cast<std::uint16_t>(std::stoi(slurp(dir + "/port"))),
                          .pins = pinning::PinSet::parse(slurp(dir + "/pin")),
                          .token = slurp(dir + "/token")},
                         [&](std::error_code ec, std::shared_ptr<net::Connection> c) {
                             if (ec) return void(std::cerr << "connect: " << ec.message() << '\n');
                             c->async_request(
                                 "job.submit", protocol::encode(protocol::JobSubmit{"job-1", {}}),
                                 [&, c](std::error_code e, std::vector<std::uint8_t> reply) {
                                     auto status = protocol::decode_outcome(reply, e);
                                     if (status)
                                         std::cout << "node says: " << status->message << '\n', rc = 0;
                                     c->async_close([](std::error_code) {});
                                 });
                         });
    io.run();
    return rc;
}
