// p2p-node config-template: a config file for `p2p-node run --config`, written from the settings table, so
// the packaged /etc/cyxp2p/node.conf lists every setting `run --help` lists, with the same default.
#include <iostream>

#include "../common/cli.hpp"
#include "settings.hpp"

namespace cyxp2p::tools::node {
namespace {

constexpr const char* kUsage =
    "usage: p2p-node config-template [--SETTING VALUE ...]\n"
    "\n"
    "Prints a config file for 'p2p-node run --config FILE' on standard output: every setting of\n"
    "'p2p-node run --help' with its help and its default, commented out. A setting given here (e.g.\n"
    "--identity /var/lib/cyxp2p/identity) is written uncommented with that value, checked as 'run' checks\n"
    "it. The Debian package's /etc/cyxp2p/node.conf is this output.\n";

constexpr const char* kHeader =
    "# p2p-node configuration, read by 'p2p-node run --config FILE' (docs/operations.md).\n"
    "#\n"
    "# One 'name = value' per line; '#' starts a comment; values are never quoted. An unknown name, a name\n"
    "# set twice or a value out of range is an error reported as FILE:LINE. Command-line flags win over\n"
    "# this file. Each setting below is shown with its default; remove the '#' to change it.\n"
    "#\n"
    "# Check a change before applying it:\n"
    "#   p2p-node run --config FILE --print-config\n";

}  // namespace

int cmd_config_template(const std::vector<std::string>& argv) {
    RunSettings chosen;
    std::vector<bool> given(settings().size(), false);
    for (std::size_t i = 2; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a == "--help" || a == "-h") {
            std::cout << kUsage;
            return 0;
        }
        std::size_t row = 0;
        while (row < settings().size() && a != "--" + settings()[row].name) ++row;
        if (row == settings().size()) {
            return fail(nullptr, Exit::usage, "usage",
                        "unknown option '" + a + "' (settings: see p2p-node run --help)\n" + kUsage);
        }
        if (i + 1 == argv.size()) return fail(nullptr, Exit::usage, "usage", a + " needs a value");
        if (auto e = apply_flag(chosen, settings()[row], argv[++i]); !e.empty())
            return fail(nullptr, Exit::usage, "bad_value", e);
        given[row] = true;
    }
    const RunSettings defaults;
    std::string out = kHeader;
    for (std::size_t row = 0; row < settings().size(); ++row) {
        const Setting& s = settings()[row];
        out += "\n# " + s.help + "\n";
        if (given[row]) {
            out += s.name + " = " + s.get(chosen) + "\n";
        } else {
            const std::string d = s.get(defaults);
            out += "#" + s.name + " =" + (d.empty() ? "" : " " + d) + "\n";
        }
    }
    std::cout << out;
    return 0;
}

}  // namespace cyxp2p::tools::node
