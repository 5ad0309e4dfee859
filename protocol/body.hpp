// Application bodies: msgpack maps with string keys (msgpack spec), decoded under limits, and typed helpers
// for what CyxWiz does on this link (docs/protocol.md section 8). The job link's messages carry a type tag
// ("t") so that one stream can carry several kinds: decode_job_message says which kind arrived, an unknown
// tag decodes as Unknown (skipped, never an error) and unknown keys are ignored (later versions may add
// some); missing or mistyped required keys are bad_message, with a message naming the field.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include <cyxp2p/protocol/status.hpp>

namespace cyxp2p::protocol {

/// Limits on every msgpack body the library decodes. Defaults fit every body the built-in methods use.
struct BodyLimits {
    std::size_t max_bytes = 1U << 20;    // whole body
    std::size_t max_depth = 16;          // nesting of maps/arrays
    std::size_t max_container = 4096;    // entries in one map or array
    std::size_t max_string = 64U << 10;  // one str
    std::size_t max_binary = 4U << 20;   // one bin (a content block is at most 2 MiB)
    std::size_t max_tag = 64;            // the "t" of a job-link message (kept in Unknown when not known)
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

// ---- The job link: tagged messages ("t": the kind), docs/protocol.md section 8 ----

/// "job.submit": {"t", "job_id": str (not empty), "config": map}. The configuration is opaque to the
/// transport: it is kept as the msgpack bytes of the map (MapBuilder makes one), validated to be a map within
/// limits. Empty `config` encodes as an empty map.
struct JobSubmit {
    std::string job_id;
    Bytes config;  // msgpack map
};

/// What a JobCommand asks; each has its own tag, the same name as the method that carries it alone
/// ("job.pause", "job.resume", "job.cancel", "job.checkpoint", "job.set_hyperparameters").
enum class Command { pause, resume, cancel, checkpoint, set_hyperparameters };

/// A job command: {"t": "job.<command>", "job_id": str, "hyperparameters": {str: number}}. `job_id` may be
/// empty (absent) when the command travels on the job's own stream; the map only with set_hyperparameters.
struct JobCommand {
    Command command = Command::pause;
    std::string job_id;
    NumberMap hyperparameters;
};

/// "job.progress": {"t", "step": uint, "total_steps": uint, "epoch": uint32, "total_epochs": uint32,
/// "state": str}. Totals are 0 when unknown (absent); `state` is a word for a person ("running", "paused",
/// "checkpointing", ...), not a closed set: a receiver shows it, it does not branch on it.
struct JobProgress {
    std::uint64_t step = 0;
    std::uint64_t total_steps = 0;
    std::uint32_t epoch = 0;
    std::uint32_t total_epochs = 0;
    std::string state;
};

/// "metrics.update": {"t", "step": uint, "epoch": uint32, "metrics": {str: number}}: what metrics.subscribe
/// streams (node to engine) and metrics.report streams carry.
struct MetricsUpdate {
    std::uint64_t step = 0;
    std::uint32_t epoch = 0;
    NumberMap metrics;
};

/// The level of a JobLog line; a closed set (another level would be a new key, not a new word).
enum class LogLevel { debug, info, warning, error };

/// "job.log": {"t", "level": "debug"|"info"|"warning"|"error", "line": str, "time_ms": uint}: one line of the
/// job's output. `time_ms` is the node's wall clock in ms since the epoch, 0 when absent.
struct JobLog {
    LogLevel level = LogLevel::info;
    std::string line;
    std::uint64_t time_ms = 0;
};

/// "job.error": {"t", "code": str, "message": str, "fatal": bool}: the job (not the transport) failed.
/// `code` is for a program ("out_of_memory", "bad_config"), `message` for a person; `fatal`: the job stopped.
struct JobError {
    std::string code;
    std::string message;
    bool fatal = false;
};

/// "outcome": {"t", "ok": bool, "error": str, "message": str}: the reply to a request (job.submit, a
/// command, metrics.report). "error" only when !ok, "message" always when !ok and optionally when ok.
/// Not protocol::Status: that one ends a stream in ERROR; an Outcome is a message the handler sends.
struct Outcome {
    bool ok = true;
    std::string error;
    std::string message;
};

/// A message whose tag this version does not know. The receiver skips it (a newer peer may send kinds an
/// older one ignores); it is never an error.
struct Unknown {
    std::string tag;
};

/// Any message of the job link; the alternative says which kind arrived.
using JobMessage =
    std::variant<Unknown, JobSubmit, JobCommand, JobProgress, MetricsUpdate, JobLog, JobError, Outcome>;

/// The tag ("t") of a message: "job.submit", "job.pause", ..., or Unknown::tag (that view lives as long as
/// `m`; the others are static).
std::string_view tag_of(const JobMessage& m) noexcept;

/// Decodes one job-link message: the body must be a map with a string "t"; an unknown tag gives Unknown, a
/// known one its struct. On failure nullopt, and `why` says what and which field (code bad_message or
/// message_too_large, message for a person, detail the field: "step", "t", ...); ready to fail a stream with.
std::optional<JobMessage> decode_job_message(std::span<const std::uint8_t> b, Status& why,
                                             const BodyLimits& limits = {});
/// The same, for callers that only need the code.
std::optional<JobMessage> decode_job_message(std::span<const std::uint8_t> b, std::error_code& ec,
                                             const BodyLimits& limits = {});

// ---- content.fetch: one kind per direction, untagged (the per-block path stays as small as it is) ----

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

/// Encoders: each job-link message with its tag first.
Bytes encode(const JobMessage& v);
Bytes encode(const JobSubmit& v);
Bytes encode(const JobCommand& v);
Bytes encode(const JobProgress& v);
Bytes encode(const MetricsUpdate& v);
Bytes encode(const JobLog& v);
Bytes encode(const JobError& v);
Bytes encode(const Outcome& v);
Bytes encode(const ContentFetch& v);
Bytes encode(const ContentBlock& v);

/// Typed decoders, for a stream that carries one kind: a message with another tag is bad_message.
std::optional<JobSubmit> decode_job_submit(std::span<const std::uint8_t> b, std::error_code& ec,
                                           const BodyLimits& limits = {});
std::optional<JobCommand> decode_job_command(std::span<const std::uint8_t> b, std::error_code& ec,
                                             const BodyLimits& limits = {});
std::optional<MetricsUpdate> decode_metrics_update(std::span<const std::uint8_t> b, std::error_code& ec,
                                                   const BodyLimits& limits = {});
std::optional<Outcome> decode_outcome(std::span<const std::uint8_t> b, std::error_code& ec,
                                      const BodyLimits& limits = {});
std::optional<ContentFetch> decode_content_fetch(std::span<const std::uint8_t> b, std::error_code& ec,
                                                 const BodyLimits& limits = {});
std::optional<ContentBlock> decode_content_block(std::span<const std::uint8_t> b, std::error_code& ec,
                                                 const BodyLimits& limits = {});
/// The receive path's form: nothing copied (the views live as long as `b`).
std::optional<ContentBlockView> decode_content_block_view(std::span<const std::uint8_t> b,
                                                          std::error_code& ec, const BodyLimits& limits = {});

/// "pause", "resume", ... (the tag without "job.").
const char* to_string(Command c) noexcept;
/// "debug", "info", "warning", "error".
const char* to_string(LogLevel l) noexcept;

}  // namespace cyxp2p::protocol
