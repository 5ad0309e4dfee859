// The file importer: what `ipfs add` does to one file. Splits the bytes into fixed-size chunks, makes a
// leaf block of each, and builds kubo's balanced DAG over them (go-unixfs importer/balanced): nodes of
// at most `max_links` children, the deepest levels filled left to right, a one-chunk file being its own
// root. Streams: memory stays at one chunk plus one pending link list per tree level.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <cyxp2p/content/bytes.hpp>
#include <cyxp2p/content/cid.hpp>

namespace cyxp2p::content {

struct ImportOptions {
    /// 0: CIDv0 (base58btc "Qm..."), kubo's default. 1: CIDv1 (base32 "b...").
    int cid_version = 0;
    /// Leaves as raw blocks (codec 0x55) instead of dag-pb UnixFS File nodes. kubo turns this on with
    /// --cid-version 1 unless --raw-leaves=false is given.
    bool raw_leaves = false;
    /// kubo --chunker size-N; 256 KiB by default, at most 1 MiB (kubo's ChunkSizeLimit).
    std::size_t chunk_size = 256 * 1024;
    /// Links per internal node: 174 in kubo's default layout, 1024 in unixfs-v1-2025.
    std::size_t max_links = 174;
    /// Threads that read and hash leaves in import_file() (not part of the DAG layout: the CIDs do not depend
    /// on it). 0 = std::thread::hardware_concurrency(); 1 = the calling thread only. Standard input is
    /// always read by the calling thread alone.
    unsigned threads = 0;

    /// kubo's defaults (= unixfs-v0-2015).
    static ImportOptions kubo_default() { return {}; }
    /// `ipfs add --cid-version 1`: CIDv1 with raw leaves, other settings unchanged.
    static ImportOptions kubo_cid_v1() { return {1, true, 256 * 1024, 174}; }
    /// IPIP-499 profiles: "unixfs-v0-2015" (kubo default) and "unixfs-v1-2025" (CIDv1, raw leaves,
    /// 1 MiB chunks, 1024 links). Error: bad_profile.
    static std::optional<ImportOptions> profile(std::string_view name, std::error_code& ec);

    /// Errors: bad_cid_version, bad_chunk_size, bad_max_links.
    std::error_code validate() const;
};

/// One block the importer made, handed to a BlockSink before the importer goes on (children before
/// parents). The views are valid only during the call.
struct ImportedBlock {
    const Cid& cid;
    ByteView bytes;
    bool leaf;
    /// Leaves: the file bytes are bytes[data_offset, data_offset + data_size) and sit at file_offset in
    /// the file. A blockstore can keep a reference to the file instead of a copy (see Blockstore).
    std::uint64_t file_offset;
    std::size_t data_offset;
    std::size_t data_size;
};

using BlockSink = std::function<std::error_code(const ImportedBlock&)>;

struct ImportResult {
    Cid root;
    std::uint64_t file_size = 0;
    std::uint64_t blocks = 0;    // blocks made (a leaf repeated in the file counts each time)
    std::uint64_t dag_size = 0;  // cumulative size, the Tsize a parent would give the root
};

namespace detail {
struct LeafMade;
class ImportPipeline;
}  // namespace detail

class Importer {
  public:
    /// Throws std::invalid_argument when options.validate() fails (a programmer error: validate first).
    explicit Importer(const ImportOptions& options, BlockSink sink = {});
    ~Importer();
    Importer(const Importer&) = delete;
    Importer& operator=(const Importer&) = delete;

    /// Adds file bytes; any split of the file into write() calls gives the same DAG.
    std::error_code write(ByteView bytes);
    /// Ends the file and returns the root. The importer is spent afterwards.
    std::optional<ImportResult> finish(std::error_code& ec);

    /// Fast path for readers that fill whole chunks themselves: `chunk` must hold exactly chunk_size
    /// bytes except for the last one. Must not be mixed with write(). `chunk` may be swapped with an
    /// internal buffer.
    std::error_code add_chunk(std::string& chunk);

  private:
    friend class detail::ImportPipeline;
    std::error_code add_made(detail::LeafMade& leaf, std::string& chunk);

    struct State;
    std::unique_ptr<State> s_;
};

/// Imports a file ("-" = standard input), reading chunk by chunk; leaves are read and hashed on
/// options.threads threads, in file order into the DAG and the sink (which is called on the calling thread).
/// Errors: io errors, sink errors.
std::optional<ImportResult> import_file(const std::filesystem::path& path, const ImportOptions& options,
                                        const BlockSink& sink, std::error_code& ec);

}  // namespace cyxp2p::content
