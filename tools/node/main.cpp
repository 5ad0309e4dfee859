// p2p-node: the reference CyxWiz Server Node daemon. See docs/tools.md.
//   p2p-node init --identity DIR [--key-type ed25519|p256] [--node-id ID] [--force | --if-missing] [--json]
#include <filesystem>
#include <iostream>

#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/identity.hpp>

#include "../common/allocator.hpp"
#include "../common/cli.hpp"
#include "../common/version.hpp"

namespace cyxp2p::tools::node {
int cmd_run(const std::vector<std::string>& argv);
int cmd_config_template(const std::vector<std::string>& argv);
}  // namespace cyxp2p::tools::node

namespace net = cyxp2p::net;
namespace pinning = cyxp2p::pinning;
using cyxp2p::tools::Args;
using cyxp2p::tools::Exit;
using cyxp2p::tools::fail;

namespace {

constexpr const char* kUsage =
    "usage: p2p-node COMMAND [OPTIONS]\n"
    "       p2p-node --version\n"
    "\n"
    "commands:\n"
    "  init             create a node identity (key + self-signed certificate), print its node id and pin\n"
    "  run              serve engines: pinned TLS 1.3, P2P tokens, content by CID\n"
    "  config-template  print a config file for 'run --config': every setting with its default\n"
    "\n"
    "'p2p-node COMMAND --help' shows a command's options. Exit codes: docs/tools.md.\n";

constexpr const char* kInitUsage =
    "usage: p2p-node init --identity DIR [--key-type ed25519|p256] [--node-id ID] [--force | --if-missing]\n"
    "                     [--json]\n"
    "\n"
    "Creates DIR/node.key (private key, mode 0600) and DIR/node.crt (self-signed certificate, CN = node id)\n"
    "and prints the node id and the SPKI pin Engines use to recognise this node.\n"
    "  --identity DIR   where to write the identity (created with mode 0700 if missing)\n"
    "  --key-type T     ed25519 (default) or p256\n"
    "  --node-id ID     node id, 1-64 of [A-Za-z0-9._-] (default: a random UUID)\n"
    "  --force          replace an existing identity (its old pin stops working)\n"
    "  --if-missing     keep an existing identity (checked as 'run' loads it) and print its node id and\n"
    "                   pin; create one only if DIR holds none (the systemd unit's first start)\n"
    "  --json           print node_id, pin, key_type, identity and created as JSON\n";

int print_identity(const Args& args, const pinning::Identity& identity, const std::string& key_type,
                   const std::string& dir, bool created) {
    if (args.json()) {
        cyxp2p::tools::print_json({{"node_id", identity.node_id()},
                                   {"pin", identity.pin().to_string()},
                                   {"key_type", key_type},
                                   {"identity", dir},
                                   {"created", created}});
    } else {
        std::cout << "node_id " << identity.node_id() << '\n' << "pin " << identity.pin().to_string() << '\n';
    }
    return 0;
}

int cmd_init(const std::vector<std::string>& argv) {
    std::string error;
    auto args = Args::parse(argv, 2,
                            {{"--identity", true},
                             {"--key-type", true},
                             {"--node-id", true},
                             {"--force", false},
                             {"--if-missing", false}},
                            error);
    if (!args) return fail(nullptr, Exit::usage, "usage", error + "\n" + kInitUsage);
    if (args->help()) {
        std::cout << kInitUsage;
        return 0;
    }
    auto dir = args->get("--identity");
    if (!dir || dir->empty() || !args->positionals().empty())
        return fail(&*args, Exit::usage, "usage", kInitUsage);
    if (args->has("--force") && args->has("--if-missing"))
        return fail(&*args, Exit::usage, "usage", "--force and --if-missing contradict each other");

    pinning::IdentityOptions options;
    const std::string key_type = args->get("--key-type").value_or("ed25519");
    if (key_type == "ed25519") {
        options.key_type = pinning::KeyType::ed25519;
    } else if (key_type == "p256") {
        options.key_type = pinning::KeyType::p256;
    } else {
        return fail(&*args, Exit::usage, "usage",
                    "--key-type must be ed25519 or p256, not '" + key_type + "'");
    }
    options.node_id = args->get("--node-id").value_or("");
    if (args->has("--node-id") && !pinning::valid_node_id(options.node_id)) {
        return fail(
            &*args, Exit::usage, "bad_node_id",
            "--node-id '" + options.node_id + "': " + make_error_code(pinning::errc::bad_node_id).message());
    }

    std::error_code ec;
    namespace fs = std::filesystem;
    auto present = [](const fs::path& p) {
        std::error_code e;
        return fs::symlink_status(p, e).type() != fs::file_type::not_found;  // unreadable counts as present
    };
    if (args->has("--if-missing") && (present(fs::path(*dir) / pinning::Identity::key_file) ||
                                      present(fs::path(*dir) / pinning::Identity::cert_file))) {
        // Half an identity, a key others can read or a certificate of another key is an error here as in
        // 'run': the unit must not start on it, nor silently replace it (engines pin the old key).
        auto existing = pinning::Identity::load(*dir, ec);
        if (!existing) {
            const auto code = static_cast<pinning::errc>(ec.value());
            const Exit exit = code == pinning::errc::key_file_permissions || code == pinning::errc::bad_pem
                                  ? Exit::bad_input
                                  : Exit::io;
            return fail(&*args, exit, net::error_name(ec, "io_error"),
                        *dir + ": " + ec.message() + " (an identity is there but cannot be used)");
        }
        const char* type = existing->key_type() == pinning::KeyType::p256 ? "p256" : "ed25519";
        return print_identity(*args, *existing, type, *dir, false);
    }

    auto identity = pinning::Identity::generate(options, ec);
    if (!identity) return fail(&*args, Exit::failure, net::error_name(ec, "io_error"), ec.message());
    ec = identity->save(*dir, args->has("--force"));
    if (ec) {
        const Exit exit = ec == pinning::errc::identity_exists ? Exit::usage : Exit::io;
        return fail(&*args, exit, net::error_name(ec, "io_error"), *dir + ": " + ec.message());
    }
    return print_identity(*args, *identity, key_type, *dir, true);
}

}  // namespace

int main(int argc, char** argv) {
    cyxp2p::tools::set_program_name("p2p-node");
    cyxp2p::tools::tune_allocator_for_bulk_transfer();  // docs/performance.md, "The allocator"
    std::vector<std::string> args(argv, argv + argc);
    if (args.size() < 2) {
        std::cerr << kUsage;
        return static_cast<int>(Exit::usage);
    }
    if (args[1] == "--help" || args[1] == "-h" || args[1] == "help") {
        std::cout << kUsage;
        return 0;
    }
    if (args[1] == "--version" || args[1] == "version") {
        std::cout << cyxp2p::tools::version_text("p2p-node");
        return 0;
    }
    try {
        if (args[1] == "init") return cmd_init(args);
        if (args[1] == "run") return cyxp2p::tools::node::cmd_run(args);
        if (args[1] == "config-template") return cyxp2p::tools::node::cmd_config_template(args);
    } catch (const std::exception& e) {
        std::cerr << "p2p-node: internal error: " << e.what() << '\n';
        return static_cast<int>(Exit::failure);
    }
    std::cerr << "p2p-node: unknown command '" << args[1] << "'\n" << kUsage;
    return static_cast<int>(Exit::usage);
}
