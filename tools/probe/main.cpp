// p2p-probe: diagnostics for cyxwiz-p2p links, keys, tokens and content. See docs/tools.md.
#include <iostream>

#include "../common/allocator.hpp"
#include "../common/cli.hpp"
#include "../common/version.hpp"
#include "commands.hpp"

namespace probe = cyxp2p::tools::probe;
using cyxp2p::tools::Exit;

namespace {

// One row per command group; each group documents its own options under `p2p-probe GROUP --help`.
constexpr probe::Command kCommands[] = {
    {"connect", "connect to a node and report each phase (TCP, TLS, pin, HELLO)", probe::cmd_connect},
    {"ping", "PING round trips over an authenticated session", probe::cmd_ping},
    {"fetch", "download a file by CID, verifying every block", probe::cmd_fetch},
    {"bench", "one session's throughput (K streams) or handshakes per second against a node",
     probe::cmd_bench},
    {"pin", "print the SPKI pin (sha256//...) of a PEM certificate", probe::cmd_pin},
    {"key", "create a token signing key (JWK) and its JWKS: key new", probe::cmd_key},
    {"token", "mint, verify or decode P2P tokens (JWT)", probe::cmd_token},
    {"cid", "print the IPFS CID of a file, as ipfs add --only-hash does", probe::cmd_cid},
    {"car", "export, verify or extract CAR v1 files: car export|verify|extract", probe::cmd_car},
};

void usage(std::ostream& os) {
    os << "usage: p2p-probe COMMAND [ARGS...] [--json]\n       p2p-probe --version\n\ncommands:\n";
    for (const auto& c : kCommands) {
        os << "  " << c.name << std::string(10 - std::min<std::size_t>(c.name.size(), 9), ' ') << c.summary
           << '\n';
    }
    os << "\n'p2p-probe COMMAND --help' shows a command's options. Exit codes: docs/tools.md.\n";
}

}  // namespace

int main(int argc, char** argv) {
    cyxp2p::tools::set_program_name("p2p-probe");
    cyxp2p::tools::tune_allocator_for_bulk_transfer();  // docs/performance.md, "The allocator"
    std::vector<std::string> args(argv, argv + argc);
    if (args.size() < 2) {
        usage(std::cerr);
        return static_cast<int>(Exit::usage);
    }
    if (args[1] == "--help" || args[1] == "-h" || args[1] == "help") {
        usage(std::cout);
        return 0;
    }
    if (args[1] == "--version" || args[1] == "version") {
        std::cout << cyxp2p::tools::version_text("p2p-probe");
        return 0;
    }
    for (const auto& c : kCommands) {
        if (args[1] == c.name) {
            try {
                return c.run(args, 2);
            } catch (const std::exception& e) {
                std::cerr << "p2p-probe: internal error: " << e.what() << '\n';
                return static_cast<int>(Exit::failure);
            }
        }
    }
    std::cerr << "p2p-probe: unknown command '" << args[1] << "'\n";
    usage(std::cerr);
    return static_cast<int>(Exit::usage);
}
