// p2p-probe cid FILE|- : the CID `ipfs add --only-hash` prints for the same file and options.
#include <iostream>

#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/net/errc.hpp>

#include "../common/cli.hpp"
#include "commands.hpp"
#include "content_options.hpp"

namespace cyxp2p::tools::probe {
namespace {

const std::string kUsage =
    std::string(
        "usage: p2p-probe cid [--cid-version 0|1] [--raw-leaves] [--chunk-size N] [--profile P] FILE|- "
        "[--json]\n"
        "\n"
        "Prints the CID of FILE (or standard input) exactly as `ipfs add --only-hash` with the same options\n"
        "would: kubo's chunking and balanced DAG layout. Nothing is stored.\n\n") +
    kImportOptionsHelp +
    "  --json               also print size, blocks, dag size and the resolved options\n";

}  // namespace

int cmd_cid(const std::vector<std::string>& argv, std::size_t first) {
    std::string error;
    auto args = Args::parse(argv, first, {CYXP2P_IMPORT_OPTION_SPECS}, error);
    if (!args) return fail(nullptr, Exit::usage, "usage", error + "\n" + kUsage);
    if (args->help()) {
        std::cout << kUsage;
        return 0;
    }
    if (args->positionals().size() != 1) return fail(&*args, Exit::usage, "usage", kUsage);
    auto opt = import_options(*args, error);
    if (!opt) return fail(&*args, Exit::usage, "usage", error);
    const std::string& path = args->positionals()[0];
    std::error_code ec;
    auto r = content::import_file(path, *opt, {}, ec);
    if (!r) return fail(&*args, exit_for(ec), net::error_name(ec, "io_error"), path + ": " + ec.message());
    if (args->json()) {
        print_json({{"cid", r->root.to_string()},
                    {"size", r->file_size},
                    {"blocks", r->blocks},
                    {"dag_size", r->dag_size},
                    {"cid_version", opt->cid_version},
                    {"raw_leaves", opt->raw_leaves},
                    {"chunk_size", opt->chunk_size},
                    {"max_links", opt->max_links}});
    } else {
        std::cout << r->root.to_string() << '\n';
    }
    return 0;
}

}  // namespace cyxp2p::tools::probe
