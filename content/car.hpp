// CAR v1 (ipld.io/specs/transport/car/carv1): varint(len) dag-cbor{roots: [CID], version: 1}, then
// sections varint(len) CID block. We write blocks in DFS pre-order from the root (the order our
// verifier and trustless gateways use) and read CARs verifying every block against the DAG.
#pragma once

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

  private:
    std::error_code read_length(std::uint64_t& len, bool& eof);

    std::istream& in_;
    Limits limits_;
    std::vector<Cid> roots_;
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
/// must then list it: car_root_mismatch), else the header's first root. When `writer` is given, the
/// verified bytes go to it and it is committed at the end.
std::optional<CarVerifyResult> verify_car(std::istream& in, const std::optional<Cid>& root,
                                          std::error_code& ec,
                                          const std::filesystem::path* extract_to = nullptr,
                                          const Limits& limits = {});

}  // namespace cyxp2p::content
