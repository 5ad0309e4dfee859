// p2p-probe car export|verify|extract: CAR v1 files of one UnixFS file DAG, verified block by block.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/content/car.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/net/errc.hpp>

#include "../common/cli.hpp"
#include "../common/local_checks.hpp"
#include "commands.hpp"
#include "content_options.hpp"

namespace cyxp2p::tools::probe {
namespace fs = std::filesystem;
namespace {

// `p2p-probe car --help` names the three commands; `car COMMAND --help` lists that command's options.
const std::string kUsage =
    "usage: p2p-probe car export FILE|- -o OUT.car [--force] [import options] [--json]\n"
    "       p2p-probe car verify IN.car [--root CID] [--json]\n"
    "       p2p-probe car extract IN.car -o FILE [--force] [--root CID] [--json]\n"
    "\n"
    "export   imports FILE as `ipfs add` would and writes its DAG as a CAR v1, blocks in DFS order.\n"
    "verify   checks every block of IN.car against the DAG under the trusted root.\n"
    "extract  verifies and writes the file; FILE appears only once everything verified.\n"
    "'p2p-probe car export|verify|extract --help' lists each command's options and defaults.\n"
    "Exit codes: 15 content mismatch, 4 malformed CAR or CID, 3 I/O error or unusable -o.\n";

const std::string kExportUsage =
    std::string(
        "usage: p2p-probe car export FILE|- -o OUT.car [--force] [import options] [--json]\n"
        "\n"
        "Imports FILE (- reads standard input) as `ipfs add` would and writes its DAG as a CAR v1,\n"
        "blocks in DFS order; prints the root CID. OUT.car appears only when complete.\n"
        "  -o OUT.car           the CAR to create; its directory must exist. An existing one is kept\n"
        "                       (exit 3)\n"
        "  --force              replace an existing OUT.car [default: refuse]\n"
        "  --json               print root, size, blocks, car and car_size as JSON\n"
        "import options (as for p2p-probe cid):\n") +
    kImportOptionsHelp;

const std::string kVerifyUsage =
    "usage: p2p-probe car verify IN.car [--root CID] [--json]\n"
    "\n"
    "Checks every block of IN.car against the DAG under the trusted root; writes nothing.\n"
    "  --root CID   the CID the content must have [default: the header's first root, which only proves the\n"
    "               CAR is self-consistent]\n"
    "  --json       print root, root_from (argument or header), size and blocks as JSON\n"
    "Exit codes: 15 a block does not match, 4 malformed CAR or CID, 3 IN.car unreadable.\n";

const std::string kExtractUsage =
    "usage: p2p-probe car extract IN.car -o FILE [--force] [--root CID] [--json]\n"
    "\n"
    "Verifies IN.car as 'car verify' does and writes the file it holds; FILE appears only once every\n"
    "block verified.\n"
    "  -o FILE      the file to create; its directory must exist. An existing FILE is kept (exit 3)\n"
    "  --force      replace an existing FILE [default: refuse]\n"
    "  --root CID   the CID the content must have [default: the header's first root]\n"
    "  --json       print root, root_from, size, blocks and file as JSON\n"
    "Exit codes: 15 a block does not match, 4 malformed CAR or CID, 3 I/O error or unusable -o.\n";

// A scratch directory beside `near`, removed on destruction.
class ScratchDir {
  public:
    explicit ScratchDir(const fs::path& near) {
        const fs::path dir = near.has_parent_path() ? near.parent_path() : fs::path(".");
        std::string templ = (dir / ".p2p-probe-car-XXXXXX").string();
        if (::mkdtemp(templ.data()) != nullptr) path_ = templ;
    }
    ~ScratchDir() {
        std::error_code ec;
        if (!path_.empty()) fs::remove_all(path_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

int do_export(const Args& args) {
    if (args.positionals().size() != 2 || !args.get("-o"))
        return fail(&args, Exit::usage, "usage", kExportUsage);
    std::string error;
    auto opt = import_options(args, error);
    if (!opt) return fail(&args, Exit::usage, "usage", error);
    const std::string input = args.positionals()[1];
    const fs::path out_path = *args.get("-o");
    if (auto e = check_output_path(out_path, args.has("--force"))) return fail(&args, *e);
    const auto replaced_mode = existing_permissions(out_path);
    ScratchDir scratch(out_path);
    if (scratch.path().empty())
        return fail(&args, Exit::io, "io_error",
                    "cannot create a scratch directory beside " + out_path.string());
    std::error_code ec;
    auto store = content::Blockstore::open(scratch.path() / "blocks", ec);
    if (!store) return fail(&args, Exit::io, "io_error", ec.message());
    // A regular file is referenced, not copied (filestore mode); standard input has to be copied.
    std::optional<fs::path> source;
    if (input != "-") source = input;
    auto r = content::import_file(input, *opt, store->sink(source), ec);
    if (!r) return fail(&args, exit_for(ec), net::error_name(ec, "io_error"), input + ": " + ec.message());
    const fs::path tmp = scratch.path() / "out.car";
    std::uint64_t blocks = 0;
    {
        std::ofstream out(tmp, std::ios::binary);
        if (!out) return fail(&args, Exit::io, "io_error", "cannot write " + tmp.string());
        if ((ec = content::export_car(*store, r->root, out, {}, &blocks))) {
            return fail(&args, exit_for(ec), net::error_name(ec, "io_error"), "export: " + ec.message());
        }
    }
    fs::rename(tmp, out_path, ec);
    if (ec)
        return fail(&args, Exit::io, "io_error", "cannot write " + out_path.string() + ": " + ec.message());
    restore_permissions(out_path, replaced_mode);
    if (args.json()) {
        print_json({{"root", r->root.to_string()},
                    {"size", r->file_size},
                    {"blocks", blocks},
                    {"car", out_path.string()},
                    {"car_size", fs::file_size(out_path, ec)}});
    } else {
        std::cout << r->root.to_string() << '\n';
    }
    return 0;
}

int do_verify(const Args& args, bool extract) {
    if (args.positionals().size() != 2 || (extract && !args.get("-o")))
        return fail(&args, Exit::usage, "usage", extract ? kExtractUsage : kVerifyUsage);
    std::optional<content::Cid> root;
    std::error_code ec;
    if (auto r = args.get("--root")) {
        root = content::Cid::parse(*r, ec);
        if (!root)
            return fail(&args, Exit::bad_input, net::error_name(ec, "io_error"), "--root: " + ec.message());
    }
    const std::string car = args.positionals()[1];
    std::ifstream in(car, std::ios::binary);
    if (!in) return fail(&args, Exit::io, "io_error", "cannot open " + car);
    const fs::path dest = extract ? fs::path(*args.get("-o")) : fs::path();
    if (extract) {
        if (auto e = check_output_path(dest, args.has("--force"))) return fail(&args, *e);
    }
    const auto replaced_mode = extract ? existing_permissions(dest) : std::nullopt;
    auto v = content::verify_car(in, root, ec, extract ? &dest : nullptr);
    if (!v) return fail(&args, exit_for(ec), net::error_name(ec, "io_error"), car + ": " + ec.message());
    if (extract) restore_permissions(dest, replaced_mode);
    const char* source = root ? "argument" : "header";
    if (args.json()) {
        nlohmann::json j{{"root", v->root.to_string()},
                         {"root_from", source},
                         {"size", v->file_size},
                         {"blocks", v->blocks}};
        if (extract) j["file"] = dest.string();
        print_json(j);
    } else {
        std::cout << (extract ? "extracted " : "verified ") << v->root.to_string() << ": " << v->blocks
                  << " blocks, " << v->file_size << " bytes"
                  << (extract ? " -> " + dest.string() : std::string()) << '\n';
        if (!root) {
            std::cerr << program_name()
                      << ": note: root taken from the CAR header; pass --root CID to check it is"
                      << " the content you expect\n";
        }
    }
    return 0;
}

}  // namespace

int cmd_car(const std::vector<std::string>& argv, std::size_t first) {
    std::string error;
    auto args = Args::parse(
        argv, first, {CYXP2P_IMPORT_OPTION_SPECS, {"-o", true}, {"--root", true}, {"--force", false}}, error);
    if (!args) return fail(nullptr, Exit::usage, "usage", error + "\n" + kUsage);
    if (args->positionals().empty()) {
        if (!args->help()) return fail(&*args, Exit::usage, "usage", kUsage);
        std::cout << kUsage;
        return 0;
    }
    const std::string& sub = args->positionals()[0];
    if (args->help()) {
        const std::string* help = sub == "export"    ? &kExportUsage
                                  : sub == "verify"  ? &kVerifyUsage
                                  : sub == "extract" ? &kExtractUsage
                                                     : nullptr;
        if (help == nullptr)
            return fail(&*args, Exit::usage, "usage", "unknown car command '" + sub + "'\n" + kUsage);
        std::cout << *help;
        return 0;
    }
    if (sub == "export") return do_export(*args);
    if (sub == "verify") return do_verify(*args, false);
    if (sub == "extract") return do_verify(*args, true);
    return fail(&*args, Exit::usage, "usage", "unknown car command '" + sub + "'\n" + kUsage);
}

}  // namespace cyxp2p::tools::probe
