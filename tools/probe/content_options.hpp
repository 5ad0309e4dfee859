// Import options shared by `p2p-probe cid` and `p2p-probe car export`, spelled as kubo's `ipfs add`
// spells them, and the mapping from content errors to exit codes.
#pragma once

#include <charconv>
#include <optional>
#include <string>

#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/importer.hpp>

#include "../common/cli.hpp"

namespace cyxp2p::tools::probe {

inline constexpr const char* kImportOptionsHelp =
    "  --cid-version 0|1    0 (default): CIDv0 Qm...; 1: CIDv1 b... with raw leaves, like kubo\n"
    "  --raw-leaves         raw leaf blocks (kubo --raw-leaves)\n"
    "  --no-raw-leaves      dag-pb leaves even with --cid-version 1 (kubo --raw-leaves=false)\n"
    "  --chunk-size N       chunk size in bytes, 1..1048576 (default 262144)\n"
    "  --chunker size-N     the same as --chunk-size N, spelled as kubo spells it\n"
    "  --profile P          unixfs-v0-2015 (kubo default) or unixfs-v1-2025 (CIDv1, raw leaves, 1 MiB\n"
    "                       chunks, 1024 links); explicit options above override it\n";

#define CYXP2P_IMPORT_OPTION_SPECS                                                                        \
    {"--cid-version", true}, {"--raw-leaves", false}, {"--no-raw-leaves", false}, {"--chunk-size", true}, \
        {"--chunker", true}, {                                                                            \
        "--profile", true                                                                                 \
    }

/// Builds ImportOptions the way kubo resolves them: profile first, then --cid-version (which turns raw
/// leaves on unless told otherwise), then explicit leaf and chunk settings. Sets `error` on bad values.
inline std::optional<content::ImportOptions> import_options(const Args& args, std::string& error) {
    content::ImportOptions opt = content::ImportOptions::kubo_default();
    if (auto p = args.get("--profile")) {
        std::error_code ec;
        auto prof = content::ImportOptions::profile(*p, ec);
        if (!prof) {
            error = "--profile: " + ec.message();
            return std::nullopt;
        }
        opt = *prof;
    }
    if (auto v = args.get("--cid-version")) {
        if (*v != "0" && *v != "1") {
            error = "--cid-version must be 0 or 1";
            return std::nullopt;
        }
        opt.cid_version = *v == "1" ? 1 : 0;
        opt.raw_leaves = opt.cid_version == 1;  // kubo: CIDv1 implies --raw-leaves unless set
    }
    if (args.has("--raw-leaves")) opt.raw_leaves = true;
    if (args.has("--no-raw-leaves")) opt.raw_leaves = false;
    auto size = args.get("--chunk-size");
    if (auto ch = args.get("--chunker")) {
        if (ch->rfind("size-", 0) != 0) {
            error = "--chunker: only size-N is supported";
            return std::nullopt;
        }
        size = ch->substr(5);
    }
    if (size) {
        std::size_t n = 0;
        auto [ptr, ec] = std::from_chars(size->data(), size->data() + size->size(), n);
        if (ec != std::errc{} || ptr != size->data() + size->size()) {
            error = "chunk size must be a number of bytes";
            return std::nullopt;
        }
        opt.chunk_size = n;
    }
    if (auto ec = opt.validate()) {
        error = ec.message();
        return std::nullopt;
    }
    return opt;
}

/// Content errors that mean "the bytes are not what the CID names" exit 15; malformed input exits 4.
inline Exit exit_for(const std::error_code& ec) {
    using content::errc;
    if (ec.category() != content::category()) return Exit::io;
    switch (static_cast<errc>(ec.value())) {
        case errc::hash_mismatch:
        case errc::unexpected_block:
        case errc::block_out_of_order:
        case errc::missing_block:
        case errc::extra_block:
        case errc::filesize_mismatch:
        case errc::blocksizes_mismatch:
        case errc::car_root_mismatch:
        case errc::source_changed:
            return Exit::content_mismatch;
        case errc::io_error:
            return Exit::io;
        default:
            return Exit::bad_input;
    }
}

}  // namespace cyxp2p::tools::probe
