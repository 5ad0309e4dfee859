#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>
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

std::size_t varint_len(std::uint64_t v) {
    std::size_t k = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++k;
    }
    return k;
}

}  // namespace

namespace detail {

/// One leaf made from one chunk, before it joins the DAG (that happens in file order, on one thread).
struct LeafMade {
    Cid cid = Cid::v0(Digest{});
    std::uint64_t tsize = 0;
    Bytes block;                  // a dag-pb leaf block; empty for raw leaves (the chunk is the block)
    std::size_t data_offset = 0;  // of the file bytes in `block`
};

/// Makes leaves; one per thread (it keeps the frame of the last leaf size).
class LeafMaker {
  public:
    LeafMaker(const ImportOptions& opt, bool need_block) : opt_(opt), need_block_(need_block) {}

    void make(std::string& data, LeafMade& out) {
        const std::size_t n = data.size();
        if (opt_.raw_leaves) {
            // A raw leaf is the chunk itself, named by a CIDv1 even when the root is CIDv0 (kubo).
            out.cid = Cid::of_block(1, Codec::raw, as_bytes(data));
            out.tsize = n;
            out.block.clear();
            out.data_offset = 0;
        } else if (!need_block_) {
            // Hash-only (`ipfs add --only-hash`): hash frame + file bytes + frame instead of copying the
            // chunk into a block. The frame depends only on the length; it comes from the same encoder.
            if (frame_size_ != n || frame_prefix_.empty()) {
                std::string zeros(n, '\0');
                Bytes block;
                encode_file_leaf(zeros, block);
                const std::size_t data_offset = block.size() - 1 - varint_len(n) - n;
                frame_prefix_.assign(block.begin(), block.begin() + static_cast<std::ptrdiff_t>(data_offset));
                frame_suffix_.assign(block.begin() + static_cast<std::ptrdiff_t>(data_offset + n),
                                     block.end());
                frame_size_ = n;
            }
            Sha256 h;
            h.update(frame_prefix_);
            h.update(as_bytes(data));
            h.update(frame_suffix_);
            out.cid = opt_.cid_version == 0 ? Cid::v0(h.finish()) : Cid::v1(Codec::dag_pb, h.finish());
            out.tsize = frame_prefix_.size() + n + frame_suffix_.size();
            out.block.clear();
        } else {
            encode_file_leaf(data, out.block);
            out.cid = Cid::of_block(opt_.cid_version, Codec::dag_pb, out.block);
            out.tsize = out.block.size();
            // UnixFS leaf: ... 0x12 varint(n) <data> 0x18 varint(n): the data ends before the filesize.
            out.data_offset = out.block.size() - (1 + varint_len(n)) - n;
        }
    }

  private:
    const ImportOptions& opt_;
    bool need_block_;
    Bytes frame_prefix_, frame_suffix_;  // dag-pb + UnixFS bytes around a leaf's file bytes (hash-only)
    std::size_t frame_size_ = 0;
};

}  // namespace detail

namespace {

struct Pending {
    Cid cid;
    std::uint64_t tsize;     // cumulative size of the subtree (block + children's tsize)
    std::uint64_t filesize;  // file bytes under it (the parent's blocksizes entry)
};

}  // namespace

struct Importer::State {
    explicit State(const ImportOptions& o, BlockSink s)
        : opt(o), sink(std::move(s)), maker(opt, bool(sink)) {}

    ImportOptions opt;
    BlockSink sink;
    detail::LeafMaker maker;
    detail::LeafMade made;
    std::string chunk;                         // write() accumulates here
    Bytes block;                               // the internal node being made
    Bytes unixfs;                              // UnixFS Data of an internal node
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
        maker.make(data, made);
        return commit(made, data);
    }

    // Joins a made leaf to the DAG: leaves must come in file order.
    std::error_code commit(const detail::LeafMade& m, const std::string& data) {
        any_chunk = true;
        const std::size_t n = data.size();
        const ByteView bytes = opt.raw_leaves ? as_bytes(data) : ByteView(m.block);
        if (auto ec = emit(m.cid, bytes, true, m.data_offset, n)) return ec;
        offset += n;
        return push(0, Pending{m.cid, m.tsize, n});
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

Importer::Importer(const ImportOptions& options, BlockSink sink) {
    if (options.validate()) throw std::invalid_argument("invalid ImportOptions");
    s_ = std::make_unique<State>(options, std::move(sink));
    s_->chunk.reserve(options.chunk_size);
}

std::error_code Importer::add_made(detail::LeafMade& leaf, std::string& chunk) {
    if (s_->finished) throw std::logic_error("Importer used after finish()");
    return s_->commit(leaf, chunk);
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

namespace detail {

// import_file on several threads: workers claim chunk indices in order, pread their chunk and make its leaf;
// the calling thread joins leaves to the DAG (and the sink) strictly in file order. At most 2 x threads
// chunks are in flight, so memory stays bounded however far the workers run ahead.
class ImportPipeline {
  public:
    ImportPipeline(int fd, const ImportOptions& opt, Importer& importer, bool need_block, unsigned threads)
        : fd_(fd), opt_(opt), importer_(importer), need_block_(need_block), slots_(2 * threads) {
        workers_.reserve(threads);
        for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
    }

    ~ImportPipeline() {
        {
            std::lock_guard lock(m_);
            stop_ = true;
        }
        changed_.notify_all();
        for (auto& t : workers_) t.join();
    }

    std::error_code run() {
        for (std::uint64_t i = 0;; ++i) {
            Slot& slot = slots_[i % slots_.size()];
            {
                std::unique_lock lock(m_);
                changed_.wait(lock, [&] { return slot.ready; });
            }
            if (slot.ec) return slot.ec;
            if (!slot.chunk.empty()) {
                if (auto ec = importer_.add_made(slot.made, slot.chunk)) return ec;
            }
            const bool last = slot.last;
            {
                std::lock_guard lock(m_);
                slot.ready = false;
                committed_ = i + 1;
            }
            changed_.notify_all();
            if (last) return {};
        }
    }

  private:
    struct Slot {
        std::string chunk;
        LeafMade made;
        std::error_code ec;
        bool last = false;  // a short read: the end of the file
        bool ready = false;
    };

    void work() {
        LeafMaker maker(opt_, need_block_);
        for (;;) {
            std::uint64_t i = 0;
            {
                std::unique_lock lock(m_);
                // Slot i % n is free once chunk i - n is committed; nothing past the end is read.
                changed_.wait(lock,
                              [&] { return stop_ || (next_ < committed_ + slots_.size() && next_ <= end_); });
                if (stop_ || next_ > end_) return;
                i = next_++;
            }
            Slot& slot = slots_[i % slots_.size()];
            slot.ec.clear();
            slot.chunk.resize(opt_.chunk_size);
            std::size_t have = 0;
            const std::uint64_t at = i * opt_.chunk_size;
            while (have < slot.chunk.size()) {
                const ssize_t n = ::pread(fd_, slot.chunk.data() + have, slot.chunk.size() - have,
                                          static_cast<off_t>(at + have));
                if (n < 0 && errno == EINTR) continue;
                if (n < 0) slot.ec = std::error_code(errno, std::generic_category());
                if (n <= 0) break;
                have += static_cast<std::size_t>(n);
            }
            slot.chunk.resize(have);
            slot.last = have < opt_.chunk_size || slot.ec;
            if (!slot.ec && have > 0) maker.make(slot.chunk, slot.made);
            {
                std::lock_guard lock(m_);
                slot.ready = true;
                if (slot.last) end_ = std::min(end_, i);
            }
            changed_.notify_all();
        }
    }

    int fd_;
    const ImportOptions& opt_;
    Importer& importer_;
    bool need_block_;
    std::vector<Slot> slots_;
    std::vector<std::thread> workers_;
    std::mutex m_;
    std::condition_variable changed_;
    std::uint64_t next_ = 0;                                         // next chunk index to claim
    std::uint64_t committed_ = 0;                                    // chunks joined to the DAG
    std::uint64_t end_ = std::numeric_limits<std::uint64_t>::max();  // index of the last chunk, once read
    bool stop_ = false;
};

}  // namespace detail

namespace {

// One thread: read and hash in turn (also the path for standard input, which cannot be pread).
std::error_code import_sequential(int fd, const ImportOptions& options, Importer& importer) {
    std::string chunk;
    for (;;) {
        chunk.resize(options.chunk_size);
        std::size_t have = 0;
        while (have < chunk.size()) {
            const ssize_t n = ::read(fd, chunk.data() + have, chunk.size() - have);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return std::error_code(errno, std::generic_category());
            if (n == 0) break;
            have += static_cast<std::size_t>(n);
        }
        chunk.resize(have);
        if (have == options.chunk_size) {
            if (auto ec = importer.add_chunk(chunk)) return ec;
            continue;
        }
        // Short read at EOF: the remainder goes through write() so finish() sees it (or the empty file).
        return importer.write(as_bytes(chunk));
    }
}

}  // namespace

std::optional<ImportResult> import_file(const std::filesystem::path& path, const ImportOptions& options,
                                        const BlockSink& sink, std::error_code& ec) {
    if ((ec = options.validate())) return std::nullopt;
    const bool stdin_input = path == "-";
    const int fd = stdin_input ? 0 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ec = std::error_code(errno, std::generic_category());
        return std::nullopt;
    }
    unsigned threads = options.threads != 0 ? options.threads : std::thread::hardware_concurrency();
    if (stdin_input || threads == 0) threads = 1;
    if (!stdin_input) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    Importer importer(options, sink);
    if (threads == 1) {
        ec = import_sequential(fd, options, importer);
    } else {
        detail::ImportPipeline pipeline(fd, options, importer, static_cast<bool>(sink), threads);
        ec = pipeline.run();
    }
    std::optional<ImportResult> result;
    if (!ec) result = importer.finish(ec);
    if (!stdin_input) ::close(fd);
    return ec ? std::nullopt : result;
}

}  // namespace cyxp2p::content
