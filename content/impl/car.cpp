#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <string_view>
#include <unordered_map>

#include <cyxp2p/content/car.hpp>
#include <cyxp2p/content/dag_pb.hpp>
#include <cyxp2p/content/dag_verifier.hpp>
#include <cyxp2p/content/errc.hpp>
#include <cyxp2p/content/varint.hpp>

namespace cyxp2p::content {
namespace {

// CBOR (RFC 8949) major types used by the header.
constexpr std::uint8_t kUint = 0, kBytes = 2, kText = 3, kArray = 4, kMap = 5, kTag = 6;
constexpr std::uint64_t kCidTag = 42;  // dag-cbor: CIDs are tag 42 over 0x00 + binary CID

void cbor_head(Bytes& out, std::uint8_t major, std::uint64_t v) {
    const auto m = static_cast<std::uint8_t>(major << 5);
    if (v < 24) {
        out.push_back(static_cast<std::uint8_t>(m | v));
    } else if (v <= 0xff) {
        out.push_back(m | 24);
        out.push_back(static_cast<std::uint8_t>(v));
    } else if (v <= 0xffff) {
        out.push_back(m | 25);
        for (int s = 8; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
    } else {
        out.push_back(m | 26);
        for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
    }
}

void cbor_text(Bytes& out, std::string_view s) {
    cbor_head(out, kText, s.size());
    out.insert(out.end(), s.begin(), s.end());
}

// Reads a head with a definite length; indefinite lengths and other oddities are a bad header.
bool read_head(ByteView& in, std::uint8_t& major, std::uint64_t& v) {
    if (in.empty()) return false;
    major = static_cast<std::uint8_t>(in[0] >> 5);
    const std::uint8_t info = in[0] & 31;
    in = in.subspan(1);
    if (info < 24) {
        v = info;
        return true;
    }
    if (info > 27) return false;
    const std::size_t n = std::size_t{1} << (info - 24);
    if (in.size() < n) return false;
    v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | in[i];
    in = in.subspan(n);
    return true;
}

bool read_text(ByteView& in, std::string_view& s) {
    std::uint8_t major = 0;
    std::uint64_t len = 0;
    if (!read_head(in, major, len) || major != kText || len > in.size()) return false;
    s = as_chars(in.first(static_cast<std::size_t>(len)));
    in = in.subspan(static_cast<std::size_t>(len));
    return true;
}

bool same_block(const Cid& a, const Cid& b) {
    return a.codec() == b.codec() && a.digest() == b.digest();
}

}  // namespace

Bytes encode_car_header(const std::vector<Cid>& roots) {
    Bytes out;
    cbor_head(out, kMap, 2);
    cbor_text(out, "roots");
    cbor_head(out, kArray, roots.size());
    for (const auto& r : roots) {
        const Bytes b = r.bytes();
        cbor_head(out, kTag, kCidTag);
        cbor_head(out, kBytes, b.size() + 1);
        out.push_back(0x00);  // dag-cbor: the multibase identity prefix of a binary CID
        out.insert(out.end(), b.begin(), b.end());
    }
    cbor_text(out, "version");
    cbor_head(out, kUint, 1);
    return out;
}

std::error_code decode_car_header(ByteView in, std::vector<Cid>& roots) {
    roots.clear();
    std::uint8_t major = 0;
    std::uint64_t entries = 0, version = 0;
    bool have_roots = false, have_version = false;
    if (!read_head(in, major, entries) || major != kMap || entries > 2) return errc::car_bad_header;
    for (std::uint64_t i = 0; i < entries; ++i) {
        std::string_view key;
        if (!read_text(in, key)) return errc::car_bad_header;
        if (key == "version" && !have_version) {
            if (!read_head(in, major, version) || major != kUint) return errc::car_bad_header;
            have_version = true;
        } else if (key == "roots" && !have_roots) {
            std::uint64_t n = 0;
            if (!read_head(in, major, n) || major != kArray || n > in.size()) return errc::car_bad_header;
            for (std::uint64_t k = 0; k < n; ++k) {
                std::uint64_t tag = 0, len = 0;
                if (!read_head(in, major, tag) || major != kTag || tag != kCidTag)
                    return errc::car_bad_header;
                if (!read_head(in, major, len) || major != kBytes || len < 1 || len > in.size() ||
                    in[0] != 0x00) {
                    return errc::car_bad_header;
                }
                std::error_code ec;
                auto cid = Cid::from_bytes(in.subspan(1, static_cast<std::size_t>(len) - 1), ec);
                if (!cid) return ec;
                roots.push_back(*cid);
                in = in.subspan(static_cast<std::size_t>(len));
            }
            have_roots = true;
        } else {
            return errc::car_bad_header;
        }
    }
    if (!in.empty() || !have_version) return errc::car_bad_header;
    // CARv2 starts with the pragma {version: 2}: recognised, but not what we read.
    if (version != 1) return errc::car_unsupported_version;
    if (!have_roots) return errc::car_bad_header;
    return {};
}

CarWriter::CarWriter(std::ostream& out, const std::vector<Cid>& roots) : out_(out) {
    const Bytes header = encode_car_header(roots);
    Bytes len;
    append_varint(len, header.size());
    out_.write(reinterpret_cast<const char*>(len.data()), static_cast<std::streamsize>(len.size()));
    out_.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
    written_ = len.size() + header.size();
}

std::error_code CarWriter::add(const Cid& cid, ByteView block) {
    const Bytes c = cid.bytes();
    Bytes head;
    append_varint(head, c.size() + block.size());
    head.insert(head.end(), c.begin(), c.end());
    out_.write(reinterpret_cast<const char*>(head.data()), static_cast<std::streamsize>(head.size()));
    out_.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(block.size()));
    if (!out_) return errc::io_error;
    written_ += head.size() + block.size();
    return {};
}

std::error_code CarReader::read_length(std::uint64_t& len, bool& eof) {
    std::uint8_t buf[kMaxVarintBytes];
    std::size_t n = 0;
    eof = false;
    for (;;) {
        const int ch = in_.get();
        if (ch == std::char_traits<char>::eof()) {
            if (in_.bad()) return errc::io_error;
            if (n == 0) {
                eof = true;
                return {};
            }
            return errc::truncated_input;
        }
        if (n == kMaxVarintBytes) return errc::varint_overflow;
        buf[n++] = static_cast<std::uint8_t>(ch);
        if ((ch & 0x80) == 0) break;
    }
    ByteView v(buf, n);
    return read_varint(v, len);
}

std::error_code CarReader::read_header() {
    std::uint64_t len = 0;
    bool eof = false;
    if (auto ec = read_length(len, eof)) return ec;
    if (eof) return errc::truncated_input;
    if (len > limits_.max_car_header_size) return errc::car_header_too_large;
    Bytes payload(static_cast<std::size_t>(len));
    in_.read(reinterpret_cast<char*>(payload.data()), static_cast<std::streamsize>(len));
    if (static_cast<std::uint64_t>(in_.gcount()) != len) return errc::truncated_input;
    return decode_car_header(payload, roots_);
}

bool CarReader::next(Cid& cid, Bytes& block, std::error_code& ec) {
    ec.clear();
    std::uint64_t len = 0;
    bool eof = false;
    if ((ec = read_length(len, eof)) || eof) return false;
    // go-car: sections larger than DefaultMaxAllowedSectionSize are refused before allocating.
    if (len > limits_.max_car_section_size) {
        ec = errc::car_section_too_large;
        return false;
    }
    block.resize(static_cast<std::size_t>(len));
    in_.read(reinterpret_cast<char*>(block.data()), static_cast<std::streamsize>(len));
    if (static_cast<std::uint64_t>(in_.gcount()) != len) {
        ec = errc::truncated_input;
        return false;
    }
    ByteView rest(block);
    auto c = Cid::read(rest, ec);
    if (!c) return false;
    if (rest.size() > limits_.max_block_size) {
        ec = errc::block_too_large;
        return false;
    }
    cid = *c;
    block.erase(block.begin(), block.end() - static_cast<std::ptrdiff_t>(rest.size()));
    return true;
}

bool CarReader::next_location(Cid& cid, std::uint64_t& offset, std::size_t& length, std::error_code& ec) {
    ec.clear();
    std::uint64_t len = 0;
    bool eof = false;
    if ((ec = read_length(len, eof)) || eof) return false;
    if (len > limits_.max_car_section_size) {
        ec = errc::car_section_too_large;
        return false;
    }
    const std::streamoff start = in_.tellg();
    if (!end_) {
        in_.seekg(0, std::ios::end);
        end_ = in_.tellg();
        in_.seekg(start);
    }
    if (start < 0 || *end_ < 0 || !in_) {
        ec = errc::io_error;
        return false;
    }
    // A seek past the end would succeed: a section that claims more than the input holds is cut short.
    if (static_cast<std::uint64_t>(*end_ - start) < len) {
        ec = errc::truncated_input;
        return false;
    }
    // A binary CID (version, codec, multihash code and length varints, 32-byte digest) fits in 64 bytes.
    std::array<std::uint8_t, 64> head{};
    const auto want = static_cast<std::streamsize>(std::min<std::uint64_t>(len, head.size()));
    in_.read(reinterpret_cast<char*>(head.data()), want);
    if (in_.gcount() != want) {
        ec = errc::truncated_input;
        return false;
    }
    ByteView rest(head.data(), static_cast<std::size_t>(want));
    auto c = Cid::read(rest, ec);
    if (!c) return false;
    const std::uint64_t cid_len = static_cast<std::uint64_t>(want) - rest.size();
    if (len - cid_len > limits_.max_block_size) {
        ec = errc::block_too_large;
        return false;
    }
    cid = *c;
    offset = static_cast<std::uint64_t>(start) + cid_len;
    length = static_cast<std::size_t>(len - cid_len);
    in_.seekg(start + static_cast<std::streamoff>(len));
    if (!in_) ec = errc::io_error;
    return !ec;
}

std::error_code CarStreamParser::feed(ByteView bytes) {
    if (failed_) return failed_;
    // Compact before appending, so pending_ never holds more than one section plus one feed.
    if (start_ > 0) {
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(start_));
        start_ = 0;
    }
    pending_.insert(pending_.end(), bytes.begin(), bytes.end());
    failed_ = parse();
    return failed_;
}

std::error_code CarStreamParser::parse() {
    for (;;) {
        ByteView rest(pending_.data() + start_, pending_.size() - start_);
        if (rest.empty()) return {};
        std::uint64_t len = 0;
        ByteView after = rest;
        if (auto ec = read_varint(after, len)) {
            // A varint cut by the end of what arrived is not an error yet.
            if (ec == errc::varint_truncated && rest.size() < kMaxVarintBytes) return {};
            return ec;
        }
        const std::uint64_t cap = header_done_ ? limits_.max_car_section_size : limits_.max_car_header_size;
        if (len > cap) return header_done_ ? errc::car_section_too_large : errc::car_header_too_large;
        if (after.size() < len) return {};  // the rest of this section has not arrived
        const ByteView payload = after.subspan(0, static_cast<std::size_t>(len));
        start_ += (rest.size() - after.size()) + static_cast<std::size_t>(len);
        if (!header_done_) {
            if (auto ec = decode_car_header(payload, roots_)) return ec;
            header_done_ = true;
            continue;
        }
        ByteView block = payload;
        std::error_code ec;
        auto cid = Cid::read(block, ec);
        if (!cid) return ec;
        if (block.size() > limits_.max_block_size) return errc::block_too_large;
        if ((ec = on_section_(*cid, block))) return ec;
    }
}

std::error_code CarStreamParser::finish() const {
    if (failed_) return failed_;
    if (!header_done_ || start_ != pending_.size()) return errc::truncated_input;
    return {};
}

namespace {

std::error_code export_node(const Blockstore& store, const Cid& cid, CarWriter& w, const Limits& limits,
                            std::size_t depth, std::uint64_t& count) {
    if (depth > limits.max_depth) return errc::too_deep;
    std::error_code ec;
    auto block = store.get(cid, ec);
    if (!block) return ec;
    if ((ec = w.add(cid, *block))) return ec;
    ++count;
    if (cid.codec() != Codec::dag_pb) return {};
    PbNode node;
    if ((ec = decode_dag_pb(*block, node, limits.max_links))) return ec;
    // Copy the links out: `node` points into `block`, which the recursion would keep alive anyway,
    // but the CIDs are all we need.
    std::vector<Cid> links;
    for (const auto& l : node.links) links.push_back(l.hash);
    block.reset();
    for (const auto& l : links) {
        if ((ec = export_node(store, l, w, limits, depth + 1, count))) return ec;
    }
    return {};
}

}  // namespace

std::error_code export_car(const Blockstore& store, const Cid& root, std::ostream& out, const Limits& limits,
                           std::uint64_t* blocks_written) {
    CarWriter w(out, {root});
    std::uint64_t count = 0;
    auto ec = export_node(store, root, w, limits, 0, count);
    out.flush();
    if (!ec && !out) ec = errc::io_error;
    if (blocks_written != nullptr) *blocks_written = count;
    return ec;
}

namespace {

// Where the verified bytes go: a FileWriter (extract) or a bare verifier (verify). Held by pointer, not in
// std::optional: GCC 12 at -O3 reports the optional's payload as maybe-uninitialized across reset/emplace.
class VerifySink {
  public:
    std::error_code open(const Cid& root, const std::filesystem::path* to, const Limits& limits) {
        writer_.reset();
        verifier_.reset();
        if (to == nullptr) {
            verifier_ = std::make_unique<DagVerifier>(root, limits);
            return {};
        }
        writer_ = std::make_unique<FileWriter>(root, *to, limits);
        return writer_->open();
    }
    std::error_code push(ByteView block, const Cid& claimed) {
        if (writer_) return writer_->push(block, claimed);
        VerifiedData out;
        return verifier_->push(block, claimed, out);
    }
    std::error_code finish() { return writer_ ? writer_->commit() : verifier_->finish(); }
    const DagVerifier& verifier() const { return writer_ ? writer_->verifier() : *verifier_; }

  private:
    std::unique_ptr<FileWriter> writer_;
    std::unique_ptr<DagVerifier> verifier_;
};

// A streaming failure that may mean "these blocks are not in DFS pre-order" rather than "this content is
// wrong": the same blocks may still form the DAG when read in the walk's order. missing_block included: a
// CAR that holds a repeated subtree once (as @ipld/car writers do) runs out in a streaming walk, which
// expects it again each time the DAG names it.
bool not_in_dfs_order(const std::error_code& ec) {
    return ec == errc::unexpected_block || ec == errc::block_out_of_order || ec == errc::extra_block ||
           ec == errc::missing_block;
}

struct DigestHash {
    std::size_t operator()(const Digest& d) const noexcept {
        std::size_t h = 0;
        std::memcpy(&h, d.data(), sizeof h);  // a SHA-256 digest is already uniformly distributed
        return h;
    }
};

struct Location {
    std::uint64_t offset;
    std::size_t length;
};

// Indexes every section after the header (`sections` is where they start), then walks the DAG from the
// root in the verifier's order, reading each block where the index puts it. The first section wins for a
// digest that appears twice; a block is found by digest, so the CID the verified parent named is the one
// the block is checked against.
std::error_code verify_indexed(std::istream& in, std::streamoff sections, const Limits& limits,
                               VerifySink& sink) {
    in.clear();
    in.seekg(sections);
    if (!in) return errc::io_error;
    CarReader reader(in, limits);
    std::unordered_map<Digest, Location, DigestHash> index;
    Cid cid = Cid::v0(Digest{});
    Location at{};
    std::error_code ec;
    while (reader.next_location(cid, at.offset, at.length, ec)) {
        if (index.size() == limits.max_car_index_blocks && !index.contains(cid.digest()))
            return errc::car_too_many_blocks;
        index.try_emplace(cid.digest(), at);
    }
    if (ec) return ec;
    Bytes block;
    while (auto next = sink.verifier().expected()) {
        auto it = index.find(next->digest());
        if (it == index.end()) return errc::missing_block;
        block.resize(it->second.length);
        in.clear();
        in.seekg(static_cast<std::streamoff>(it->second.offset));
        in.read(reinterpret_cast<char*>(block.data()), static_cast<std::streamsize>(block.size()));
        if (static_cast<std::size_t>(in.gcount()) != block.size()) return errc::truncated_input;
        if ((ec = sink.push(block, *next))) return ec;
    }
    return sink.finish();
}

}  // namespace

std::optional<CarVerifyResult> verify_car(std::istream& in, const std::optional<Cid>& root,
                                          std::error_code& ec, const std::filesystem::path* extract_to,
                                          const Limits& limits) {
    CarReader reader(in, limits);
    if ((ec = reader.read_header())) return std::nullopt;
    Cid trusted = Cid::v0(Digest{});
    if (root) {
        const auto& rs = reader.roots();
        if (std::none_of(rs.begin(), rs.end(), [&](const Cid& r) { return same_block(r, *root); })) {
            ec = errc::car_root_mismatch;
            return std::nullopt;
        }
        trusted = *root;
    } else if (!reader.roots().empty()) {
        trusted = reader.roots().front();
    } else {
        ec = errc::car_no_roots;
        return std::nullopt;
    }
    const std::streamoff sections = in.tellg();  // -1: a pipe, which cannot be indexed
    VerifySink sink;
    if ((ec = sink.open(trusted, extract_to, limits))) return std::nullopt;
    Cid cid = trusted;
    Bytes block;
    while (reader.next(cid, block, ec)) {
        if ((ec = sink.push(block, cid))) break;
    }
    if (!ec) ec = sink.finish();
    if (not_in_dfs_order(ec)) {
        // Another order (leaves first, as @ipld/car writers and `order=unk` gateways produce): start over
        // from an index. The writer of the failed pass deleted its temporary file.
        if (sections < 0) {
            // missing_block stays: from a pipe, a CAR that lacks a block cannot be told from one that
            // holds a repeated subtree once.
            if (ec != errc::missing_block) ec = errc::car_unordered_stream;
            return std::nullopt;
        }
        if (!(ec = sink.open(trusted, extract_to, limits))) ec = verify_indexed(in, sections, limits, sink);
    }
    if (ec) return std::nullopt;
    const DagVerifier& v = sink.verifier();
    return CarVerifyResult{trusted, v.file_size(), v.blocks_verified()};
}

}  // namespace cyxp2p::content
