// CAR v1 (ipld.io/specs/transport/car/carv1): varint(len) dag-cbor{roots: [CID], version: 1}, then
// sections varint(len) CID block. We write blocks in DFS pre-order from the root (the order our
// verifier and trustless gateways use) and read CARs verifying every block against the DAG. The spec
// fixes no block order, so a CAR in any other order is read through an index of block offsets and
// walked from the root (a seekable input only).
#pragma once

#include <functional>
#include <istream>
#include <optional>
#include <ostream>
#include <system_error>
#include <vector>

#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/content/bytes.hpp>
#include <cyxp2p/content/cid.hpp>
#include <cyxp2p/content/file_writer.hpp>
#include <cyxp2p/content/limits.hpp>

namespace cyxp2p::content {

/// The dag-cbor header: {"roots": [tag 42 (0x00 + CID bytes)...], "version": 1}, keys in dag-cbor's
/// canonical order (shorter first), as @ipld/car and go-car write it.
Bytes encode_car_header(const std::vector<Cid>& roots);
/// Strict parse of a header payload. Errors: car_bad_header, car_unsupported_version, CID errors.
std::error_code decode_car_header(ByteView payload, std::vector<Cid>& roots);

class CarWriter {
  public:
    CarWriter(std::ostream& out, const std::vector<Cid>& roots);
    std::error_code add(const Cid& cid, ByteView block);
    std::uint64_t bytes_written() const { return written_; }

  private:
    std::ostream& out_;
    std::uint64_t written_ = 0;
};

class CarReader {
  public:
    explicit CarReader(std::istream& in, const Limits& limits = {}) : in_(in), limits_(limits) {}
    /// Reads the header. Errors: truncated_input, car_header_too_large, car_bad_header, ...
    std::error_code read_header();
    const std::vector<Cid>& roots() const { return roots_; }
    /// Reads the next section into (cid, block). Returns false at the clean end of the input or on
    /// error (ec set: truncated_input, car_section_too_large, block_too_large, CID errors, io_error).
    bool next(Cid& cid, Bytes& block, std::error_code& ec);
    /// Like next(), but reads only the section's CID and seeks past its block: where the block starts in
    /// the input and how long it is. The input must be seekable. Same errors as next().
    bool next_location(Cid& cid, std::uint64_t& offset, std::size_t& length, std::error_code& ec);

  private:
    std::error_code read_length(std::uint64_t& len, bool& eof);

    std::istream& in_;
    Limits limits_;
    std::vector<Cid> roots_;
    std::optional<std::streamoff> end_;  // the input's size, for next_location
};

/// A CAR v1 read as bytes arrive (an HTTP body, a socket) rather than from a stream it may block on: feed()
/// whatever arrived; each complete section is handed to `on_section` (CID and block, valid during the call)
/// as soon as its last byte is in. Holds at most one section (capped as CarReader caps them) plus what
/// arrived past it. Errors are CarReader's; after one, every later feed() repeats it.
class CarStreamParser {
  public:
    using OnSection = std::function<std::error_code(const Cid&, ByteView block)>;
    explicit CarStreamParser(OnSection on_section, const Limits& limits = {})
        : on_section_(std::move(on_section)), limits_(limits) {}

    /// Parses what it can of `bytes`; an error from `on_section` stops it and is returned.
    std::error_code feed(ByteView bytes);
    /// At the end of the input: truncated_input when it stopped inside the header or a section.
    std::error_code finish() const;
    bool has_header() const { return header_done_; }
    const std::vector<Cid>& roots() const { return roots_; }

  private:
    std::error_code parse();

    OnSection on_section_;
    Limits limits_;
    Bytes pending_;
    std::size_t start_ = 0;  // first unparsed byte of pending_
    bool header_done_ = false;
    std::vector<Cid> roots_;
    std::error_code failed_;
};

/// Writes the DAG under `root` from `store` as a CAR v1 in DFS pre-order (each block re-verified as it
/// is read from the store). Repeated subtrees (identical chunks) are written each time they occur, as
/// the verifier expects them.
std::error_code export_car(const Blockstore& store, const Cid& root, std::ostream& out,
                           const Limits& limits = {}, std::uint64_t* blocks_written = nullptr);

struct CarVerifyResult {
    Cid root = Cid::v0(Digest{});
    std::uint64_t file_size = 0;
    std::uint64_t blocks = 0;
};

/// Reads a CAR and verifies it as one UnixFS file DAG. The trusted root is `root` if given (the header
/// must then list it: car_root_mismatch), else the header's first root. When `extract_to` is given, the
/// verified bytes go to that file, which appears only once the whole DAG verified.
/// A CAR in DFS pre-order is verified as it streams. When a block arrives that the DFS walk does not
/// expect next and the input is seekable, the input is indexed instead (block offsets only, at most
/// Limits::max_car_index_blocks: car_too_many_blocks) and the DAG walked from the root, reading each block
/// where the index puts it; blocks the DAG does not reach are ignored, as kubo's `dag import` does. A
/// non-seekable input in another order fails with car_unordered_stream.
std::optional<CarVerifyResult> verify_car(std::istream& in, const std::optional<Cid>& root,
                                          std::error_code& ec,
                                          const std::filesystem::path* extract_to = nullptr,
                                          const Limits& limits = {});

}  // namespace cyxp2p::content
