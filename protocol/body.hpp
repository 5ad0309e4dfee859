// Application bodies: msgpack maps with string keys (msgpack spec), decoded under limits, and typed helpers
// for what CyxWiz does on this link. Unknown keys are ignored (later versions may add some); missing or
// mistyped required keys are bad_message.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace cyxp2p::protocol {

/// Limits on every msgpack body the library decodes. Defaults fit every body the built-in methods use.
struct BodyLimits {
    std::size_t max_bytes = 1U << 20;    // whole body
    std::size_t max_depth = 16;          // nesting of maps/arrays
    std::size_t max_container = 4096;    // entries in one map or array
    std::size_t max_string = 64U << 10;  // one str
    std::size_t max_binary = 4U << 20;   // one bin (a content block is at most 2 MiB)
};

/// Checks that `body` is exactly one msgpack value within `limits` (no trailing bytes).
std::error_code validate_body(std::span<const std::uint8_t> body, const BodyLimits& limits = {});

/// Limits for decoding a ContentBlock that carries a block of up to `max_block_size` bytes (the receiver's
/// content::Limits::max_block_size): the block, its CID and the msgpack framing. Under the generic 1 MiB
/// body limit an honest DAG of 1 MiB chunks (unixfs-v1-2025) could not be fetched, and an oversized block
/// would never reach the verifier's block_too_large check.
BodyLimits content_block_limits(std::size_t max_block_size);

using Bytes = std::vector<std::uint8_t>;
using NumberMap = std::vector<std::pair<std::string, double>>;

/// job.submit request: {"job_id": str, "config": map}. The configuration is opaque to the transport: it is
/// kept as the msgpack bytes of the map, validated to be a map within limits.
struct JobSubmit {
    std::string job_id;
    Bytes config;  // msgpack map
};

/// metrics.update / a metrics stream message: {"step": uint, "epoch": uint, "metrics": {str: number}}.
struct MetricsUpdate {
    std::uint64_t step = 0;
    std::uint32_t epoch = 0;
    NumberMap metrics;
};

/// job.command request: {"command": "pause"|"resume"|"cancel"|"checkpoint"|"set_hyperparameters",
/// "hyperparameters": {str: number}} (the map only with set_hyperparameters).
enum class Command { pause, resume, cancel, checkpoint, set_hyperparameters };
struct TrainingCommand {
    Command command = Command::pause;
    NumberMap hyperparameters;
};

/// content.fetch request: {"cid": str, "skip_blocks": uint}. skip_blocks resumes a transfer: the node
/// still sends the DAG's internal blocks (the engine must verify them) but omits the first N leaf blocks.
struct ContentFetch {
    std::string cid;
    std::uint64_t skip_blocks = 0;
};

/// content.fetch response message: {"cid": bin (binary CID), "data": bin}.
struct ContentBlock {
    Bytes cid;
    Bytes data;
};

/// A ContentBlock decoded in place: both views point into the message it was decoded from.
struct ContentBlockView {
    std::span<const std::uint8_t> cid;
    std::span<const std::uint8_t> data;
};

/// A response's status: {"ok": bool, "error": str, "message": str}; "error" only when !ok, "message" always
/// when !ok and optionally when ok.
struct StatusBody {
    bool ok = true;
    std::string error;
    std::string message;
};

Bytes encode(const JobSubmit& v);
Bytes encode(const MetricsUpdate& v);
Bytes encode(const TrainingCommand& v);
Bytes encode(const ContentFetch& v);
Bytes encode(const ContentBlock& v);
Bytes encode(const StatusBody& v);

std::optional<JobSubmit> decode_job_submit(std::span<const std::uint8_t> b, std::error_code& ec,
                                           const BodyLimits& limits = {});
std::optional<MetricsUpdate> decode_metrics_update(std::span<const std::uint8_t> b, std::error_code& ec,
                                                   const BodyLimits& limits = {});
std::optional<TrainingCommand> decode_training_command(std::span<const std::uint8_t> b, std::error_code& ec,
                                                       const BodyLimits& limits = {});
std::optional<ContentFetch> decode_content_fetch(std::span<const std::uint8_t> b, std::error_code& ec,
                                                 const BodyLimits& limits = {});
std::optional<ContentBlock> decode_content_block(std::span<const std::uint8_t> b, std::error_code& ec,
                                                 const BodyLimits& limits = {});
/// The receive path's form: nothing copied (the views live as long as `b`).
std::optional<ContentBlockView> decode_content_block_view(std::span<const std::uint8_t> b,
                                                          std::error_code& ec, const BodyLimits& limits = {});
std::optional<StatusBody> decode_status(std::span<const std::uint8_t> b, std::error_code& ec,
                                        const BodyLimits& limits = {});

const char* to_string(Command c) noexcept;

}  // namespace cyxp2p::protocol
