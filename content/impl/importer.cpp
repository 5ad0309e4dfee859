#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <vector>

#include <cyxp2p/content/dag_pb.hpp>
#include <cyxp2p/content/detail/sha256.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/content/limits.hpp>
#include <cyxp2p/content/unixfs.hpp>

namespace cyxp2p::content {

std::optional<ImportOptions> ImportOptions::profile(std::string_view name, std::error_code& ec) {
    ec.clear();
    // IPIP-499 (specs.ipfs.tech/ipips/ipip-0499): the two named CID profiles kubo implements.
    if (name == "unixfs-v0-2015") return ImportOptions{0, false, 256 * 1024, 174};
    if (name == "unixfs-v1-2025") return ImportOptions{1, true, 1024 * 1024, 1024};
    ec = errc::bad_profile;
    return std::nullopt;
}

std::error_code ImportOptions::validate() const {
    if (cid_version != 0 && cid_version != 1) return errc::bad_cid_version;
    // kubo (boxo/chunker): "chunker parameters may not exceed the maximum chunk size of 1 MiB".
    if (chunk_size == 0 || chunk_size > 1024 * 1024) return errc::bad_chunk_size;
    if (max_links < 2 || max_links > Limits{}.max_links) return errc::bad_max_links;
    return {};
}

namespace {

struct Pending {
    Cid cid;
    std::uint64_t tsize;     // cumulative size of the subtree (block + children's tsize)
    std::uint64_t filesize;  // file bytes under it (the parent's blocksizes entry)
};

}  // namespace

struct Importer::State {
    ImportOptions opt;
    BlockSink sink;
    std::string chunk;                 // write() accumulates here
    Bytes block;                       // the block being made
    Bytes unixfs;                      // UnixFS Data of an internal node
    Bytes frame_prefix, frame_suffix;  // dag-pb + UnixFS bytes around a leaf's file bytes (hash-only)
    std::size_t frame_size = 0;
    std::vector<std::vector<Pending>> levels;  // levels[0] = leaves not yet under a parent
    std::uint64_t offset = 0;
    std::uint64_t blocks = 0;
    bool any_chunk = false;
    bool finished = false;

    std::error_code emit(const Cid& cid, ByteView bytes, bool leaf, std::size_t data_offset,
                         std::size_t data_size) {
        ++blocks;
        if (!sink) return {};
        return sink(ImportedBlock{cid, bytes, leaf, offset, data_offset, data_size});
    }

    std::error_code leaf(std::string& data) {
        any_chunk = true;
        const std::size_t n = data.size();
        Pending p{Cid::v0(Digest{}), 0, n};
        if (opt.raw_leaves) {
            // A raw leaf is the chunk itself, named by a CIDv1 even when the root is CIDv0 (kubo).
            const ByteView bytes = as_bytes(data);
            p.cid = Cid::of_block(1, Codec::raw, bytes);
            p.tsize = n;
            if (auto ec = emit(p.cid, bytes, true, 0, n)) return ec;
        } else if (!sink) {
            // Hash-only (`ipfs add --only-hash`): hash frame + file bytes + frame instead of copying the
            // chunk into a block. The frame depends only on the length; it comes from the same encoder.
            if (frame_size != n || frame_prefix.empty()) {
                std::string zeros(n, '\0');
                encode_file_leaf(zeros, block);
                const std::size_t data_offset = block.size() - 1 - varint_len(n) - n;
                frame_prefix.assign(block.begin(), block.begin() + static_cast<std::ptrdiff_t>(data_offset));
                frame_suffix.assign(block.begin() + static_cast<std::ptrdiff_t>(data_offset + n),
                                    block.end());
                frame_size = n;
            }
            detail::Sha256 h;
            h.update(frame_prefix);
            h.update(as_bytes(data));
            h.update(frame_suffix);
            p.cid = opt.cid_version == 0 ? Cid::v0(h.finish()) : Cid::v1(Codec::dag_pb, h.finish());
            p.tsize = frame_prefix.size() + n + frame_suffix.size();
            ++blocks;
        } else {
            encode_file_leaf(data, block);
            p.cid = Cid::of_block(opt.cid_version, Codec::dag_pb, block);
            p.tsize = block.size();
            // UnixFS leaf: ... 0x12 varint(n) <data> 0x18 varint(n): the data ends before the filesize.
            const std::size_t trailer = 1 + varint_len(n);
            const std::size_t data_offset = block.size() - trailer - n;
            if (auto ec = emit(p.cid, block, true, data_offset, n)) return ec;
        }
        offset += n;
        return push(0, p);
    }

    static std::size_t varint_len(std::uint64_t v) {
        std::size_t k = 1;
        while (v >= 0x80) {
            v >>= 7;
            ++k;
        }
        return k;
    }

    // Balanced layout: a level that already holds max_links entries becomes one parent one level up
    // before it takes another entry. Building bottom-up this way gives the same tree as kubo's
    // top-down fillNodeRec: every subtree but the last is full.
    std::error_code push(std::size_t level, const Pending& p) {
        if (levels.size() <= level) levels.resize(level + 1);
        if (levels[level].size() == opt.max_links) {
            if (auto ec = close_level(level)) return ec;
        }
        levels[level].push_back(p);
        return {};
    }

    std::error_code close_level(std::size_t level) {
        std::vector<Pending> children;
        children.swap(levels[level]);
        std::vector<std::uint64_t> sizes;
        std::vector<PbLink> links;
        std::uint64_t filesize = 0, tsize = 0;
        sizes.reserve(children.size());
        links.reserve(children.size());
        for (const auto& c : children) {
            sizes.push_back(c.filesize);
            filesize += c.filesize;
            tsize += c.tsize;
            // kubo writes Name "" on every file link; it is part of the bytes the CID hashes.
            links.push_back(PbLink{c.cid, std::string_view{}, c.tsize});
        }
        encode_file_node_data(filesize, sizes, unixfs);
        encode_dag_pb(PbNode{std::move(links), ByteView(unixfs)}, block);
        Pending parent{Cid::of_block(opt.cid_version, Codec::dag_pb, block), tsize + block.size(), filesize};
        if (auto ec = emit(parent.cid, block, false, 0, 0)) return ec;
        return push(level + 1, parent);
    }
};

Importer::Importer(const ImportOptions& options, BlockSink sink) : s_(std::make_unique<State>()) {
    if (options.validate()) throw std::invalid_argument("invalid ImportOptions");
    s_->opt = options;
    s_->sink = std::move(sink);
    s_->chunk.reserve(options.chunk_size);
}

Importer::~Importer() = default;

std::error_code Importer::add_chunk(std::string& chunk) {
    if (s_->finished) throw std::logic_error("Importer used after finish()");
    return s_->leaf(chunk);
}

std::error_code Importer::write(ByteView bytes) {
    if (s_->finished) throw std::logic_error("Importer used after finish()");
    while (!bytes.empty()) {
        const std::size_t take = std::min(bytes.size(), s_->opt.chunk_size - s_->chunk.size());
        s_->chunk.append(reinterpret_cast<const char*>(bytes.data()), take);
        bytes = bytes.subspan(take);
        if (s_->chunk.size() == s_->opt.chunk_size) {
            if (auto ec = s_->leaf(s_->chunk)) return ec;
            s_->chunk.clear();
        }
    }
    return {};
}

std::optional<ImportResult> Importer::finish(std::error_code& ec) {
    ec.clear();
    if (s_->finished) throw std::logic_error("Importer::finish() called twice");
    s_->finished = true;
    // The last partial chunk; an empty file is one empty leaf (kubo: QmbFMke1...).
    if (!s_->chunk.empty() || !s_->any_chunk) {
        if ((ec = s_->leaf(s_->chunk))) return std::nullopt;
    }
    auto& levels = s_->levels;
    for (std::size_t level = 0; level < levels.size(); ++level) {
        const bool top = level + 1 == levels.size();
        if (top && levels[level].size() == 1) {
            const Pending& root = levels[level].front();
            return ImportResult{root.cid, root.filesize, s_->blocks, root.tsize};
        }
        if (!levels[level].empty()) {
            if ((ec = s_->close_level(level))) return std::nullopt;
        }
    }
    throw std::logic_error("importer finished without a root");
}

std::optional<ImportResult> import_file(const std::filesystem::path& path, const ImportOptions& options,
                                        const BlockSink& sink, std::error_code& ec) {
    if ((ec = options.validate())) return std::nullopt;
    const bool stdin_input = path == "-";
    const int fd = stdin_input ? 0 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ec = std::error_code(errno, std::generic_category());
        return std::nullopt;
    }
    if (!stdin_input) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    Importer importer(options, sink);
    std::string chunk;
    std::optional<ImportResult> result;
    for (;;) {
        chunk.resize(options.chunk_size);
        std::size_t have = 0;
        while (have < chunk.size()) {
            const ssize_t n = ::read(fd, chunk.data() + have, chunk.size() - have);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                ec = std::error_code(errno, std::generic_category());
                break;
            }
            if (n == 0) break;
            have += static_cast<std::size_t>(n);
        }
        if (ec) break;
        chunk.resize(have);
        if (have == options.chunk_size) {
            if ((ec = importer.add_chunk(chunk))) break;
            continue;
        }
        // Short read at EOF: the remainder goes through write() so finish() sees it (or the empty file).
        if ((ec = importer.write(as_bytes(chunk)))) break;
        result = importer.finish(ec);
        break;
    }
    if (!stdin_input) ::close(fd);
    return ec ? std::nullopt : result;
}

}  // namespace cyxp2p::content
