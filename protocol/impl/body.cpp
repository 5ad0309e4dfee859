// msgpack-c (v3 API) does the parsing; its unpack_limit caps every container, string and depth, and the
// container caps are also bounded by the body size so that a header announcing 2^32 elements cannot make
// it allocate for them (each element needs at least one byte of input).
#include <algorithm>
#include <bit>
#include <limits>

#include <msgpack.hpp>

#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/errc.hpp>

namespace cyxp2p::protocol {
namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;
using namespace std::string_literals;

Bytes finish(const msgpack::sbuffer& buf) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(buf.data());
    return Bytes(p, p + buf.size());
}

void pack_str(Packer& pk, std::string_view s) {
    pk.pack_str(static_cast<std::uint32_t>(s.size()));
    pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

void pack_bin(Packer& pk, const Bytes& b) {
    pk.pack_bin(static_cast<std::uint32_t>(b.size()));
    pk.pack_bin_body(reinterpret_cast<const char*>(b.data()), static_cast<std::uint32_t>(b.size()));
}

// Always float 64 (msgpack spec 0xcb): msgpack-c's pack_double writes an integral value as an integer,
// which would turn 1.0 into 1 and -0.0 into 0.
void pack_float64(msgpack::sbuffer& buf, double v) {
    const auto bits = std::bit_cast<std::uint64_t>(v);
    char out[9] = {static_cast<char>(0xCB)};
    for (int i = 0; i < 8; ++i) out[1 + i] = static_cast<char>((bits >> (56 - 8 * i)) & 0xFF);
    buf.write(out, sizeof out);
}

void pack_float32(msgpack::sbuffer& buf, float v) {
    const auto bits = std::bit_cast<std::uint32_t>(v);
    char out[5] = {static_cast<char>(0xCA)};
    for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<char>((bits >> (24 - 8 * i)) & 0xFF);
    buf.write(out, sizeof out);
}

void pack_numbers(msgpack::sbuffer& buf, Packer& pk, const NumberMap& m) {
    pk.pack_map(static_cast<std::uint32_t>(m.size()));
    for (const auto& [k, v] : m) {
        pack_str(pk, k);
        pack_float64(buf, v);
    }
}

// Re-encodes a validated object with the forms it arrived in, so that an opaque value (a job config) keeps
// its floats floats; msgpack::pack would write an integral float as an integer. The depth is bounded by the
// unpack limit (max_depth).
void pack_object(msgpack::sbuffer& buf, Packer& pk, const msgpack::object& o) {
    switch (o.type) {
        case msgpack::type::FLOAT64:
            pack_float64(buf, o.via.f64);
            break;
        case msgpack::type::FLOAT32:
            pack_float32(buf, static_cast<float>(o.via.f64));
            break;
        case msgpack::type::ARRAY:
            pk.pack_array(o.via.array.size);
            for (std::uint32_t i = 0; i < o.via.array.size; ++i) pack_object(buf, pk, o.via.array.ptr[i]);
            break;
        case msgpack::type::MAP:
            pk.pack_map(o.via.map.size);
            for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
                pack_object(buf, pk, o.via.map.ptr[i].key);
                pack_object(buf, pk, o.via.map.ptr[i].val);
            }
            break;
        default:
            pk.pack(o);  // nil, bool, str, bin, ext as they were; integers in their smallest form
            break;
    }
}

// Opens a tagged map with `entries` entries besides the tag, the tag first.
void pack_head(Packer& pk, std::string_view tag, std::uint32_t entries) {
    pk.pack_map(entries + 1);
    pack_str(pk, "t");
    pack_str(pk, tag);
}

msgpack::unpack_limit unpack_limit_for(std::span<const std::uint8_t> b, const BodyLimits& limits) {
    const std::size_t container = std::min(limits.max_container, b.size());
    return {container, container,       limits.max_string, std::min(limits.max_binary, b.size()),
            0,         limits.max_depth};
}

Status bad_body(std::string message, std::string detail) {
    return Status{errc::bad_message, std::move(message), std::chrono::milliseconds(0), std::move(detail)};
}

// Why msgpack-c refused a body, naming the limit a person would raise (or the peer would stay under).
Status unpack_failure(const std::exception& e, const BodyLimits& limits) {
    const auto n = [](std::size_t v) { return std::to_string(v); };
    if (dynamic_cast<const msgpack::depth_size_overflow*>(&e) != nullptr) {
        return bad_body("body nests maps/arrays deeper than max_depth (" + n(limits.max_depth) + ")", "body");
    }
    if (dynamic_cast<const msgpack::map_size_overflow*>(&e) != nullptr ||
        dynamic_cast<const msgpack::array_size_overflow*>(&e) != nullptr) {
        return bad_body("body has a map or array of more than max_container (" + n(limits.max_container) +
                            ") entries, or more than its bytes can hold",
                        "body");
    }
    if (dynamic_cast<const msgpack::str_size_overflow*>(&e) != nullptr) {
        return bad_body("body has a string longer than max_string (" + n(limits.max_string) + " bytes)",
                        "body");
    }
    if (dynamic_cast<const msgpack::bin_size_overflow*>(&e) != nullptr) {
        return bad_body("body has a binary longer than max_binary (" + n(limits.max_binary) + " bytes)",
                        "body");
    }
    if (dynamic_cast<const msgpack::insufficient_bytes*>(&e) != nullptr) {
        return bad_body("body ends inside a msgpack value", "body");
    }
    return bad_body("body is not msgpack ("s + e.what() + ")", "body");
}

std::optional<msgpack::object_handle> parse(std::span<const std::uint8_t> b, const BodyLimits& limits,
                                            Status& why) {
    why = {};
    if (b.size() > limits.max_bytes) {
        why = Status{errc::message_too_large,
                     "body of " + std::to_string(b.size()) + " bytes exceeds max_bytes (" +
                         std::to_string(limits.max_bytes) + ")",
                     std::chrono::milliseconds(0), "body"};
        return std::nullopt;
    }
    const msgpack::unpack_limit lim = unpack_limit_for(b, limits);
    try {
        std::size_t off = 0;
        msgpack::object_handle oh =
            msgpack::unpack(reinterpret_cast<const char*>(b.data()), b.size(), off, nullptr, nullptr, lim);
        if (off != b.size()) {
            why = bad_body(std::to_string(b.size() - off) + " trailing bytes after the body's msgpack value",
                           "body");
            return std::nullopt;
        }
        return oh;
    } catch (const std::exception& e) {
        why = unpack_failure(e, limits);
        return std::nullopt;
    }
}

std::optional<msgpack::object_handle> parse(std::span<const std::uint8_t> b, const BodyLimits& limits,
                                            std::error_code& ec) {
    Status why;
    auto oh = parse(b, limits, why);
    ec = why.error();
    return oh;
}

const char* type_name(msgpack::type::object_type t) {
    switch (t) {
        case msgpack::type::STR:
            return "a string";
        case msgpack::type::POSITIVE_INTEGER:
            return "an unsigned integer";
        case msgpack::type::MAP:
            return "a map";
        case msgpack::type::BIN:
            return "a binary";
        case msgpack::type::BOOLEAN:
            return "a bool";
        default:
            return "of another type";
    }
}

// Reads the fields of one map and keeps the first thing wrong with it (which field, and why) so that the
// caller can say it; `what` names the message ("job.progress"). Duplicate keys are refused (ambiguous).
class Reader {
  public:
    Reader(const msgpack::object& o, std::string what) : o_(o), what_(std::move(what)) {
        if (o.type != msgpack::type::MAP) fail("", "is not a msgpack map");
    }

    bool ok() const { return why_.ok(); }
    const Status& why() const { return why_; }

    const msgpack::object* get(std::string_view key, msgpack::type::object_type type, bool required) {
        if (!ok()) return nullptr;
        const msgpack::object* found = nullptr;
        for (std::uint32_t i = 0; i < o_.via.map.size; ++i) {
            const auto& kv = o_.via.map.ptr[i];
            if (kv.key.type == msgpack::type::STR &&
                std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == key) {
                if (found != nullptr) return fail(key, "appears twice");
                found = &kv.val;
            }
        }
        if (found == nullptr) return required ? fail(key, "is missing") : nullptr;
        if (found->type != type) return fail(key, "must be "s + type_name(type));
        return found;
    }
    std::optional<std::string> str(std::string_view key, bool required = true) {
        const auto* v = get(key, msgpack::type::STR, required);
        if (v == nullptr) return ok() ? std::optional<std::string>(std::string()) : std::nullopt;
        return std::string(v->via.str.ptr, v->via.str.size);
    }
    std::optional<std::string> nonempty_str(std::string_view key) {
        auto s = str(key);
        if (s && s->empty()) return fail_as<std::string>(key, "must not be empty");
        return s;
    }
    std::optional<std::uint64_t> uint(std::string_view key, bool required,
                                      std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) {
        const auto* v = get(key, msgpack::type::POSITIVE_INTEGER, required);
        if (v == nullptr) return ok() ? std::optional<std::uint64_t>(0) : std::nullopt;
        if (v->via.u64 > max) return fail_as<std::uint64_t>(key, "exceeds " + std::to_string(max));
        return v->via.u64;
    }
    std::optional<bool> boolean(std::string_view key, bool required) {
        const auto* v = get(key, msgpack::type::BOOLEAN, required);
        if (v == nullptr) return ok() ? std::optional<bool>(false) : std::nullopt;
        return v->via.boolean;
    }
    std::optional<std::span<const std::uint8_t>> bin_view(std::string_view key) {
        const auto* v = get(key, msgpack::type::BIN, true);
        if (v == nullptr) return std::nullopt;
        return std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(v->via.bin.ptr),
                                             v->via.bin.size);
    }
    std::optional<NumberMap> numbers(std::string_view key, bool required) {
        const auto* v = get(key, msgpack::type::MAP, required);
        if (v == nullptr) return ok() ? std::optional<NumberMap>(NumberMap{}) : std::nullopt;
        NumberMap out;
        for (std::uint32_t i = 0; i < v->via.map.size; ++i) {
            const auto& kv = v->via.map.ptr[i];
            if (kv.key.type != msgpack::type::STR)
                return fail_as<NumberMap>(key, "has a key that is not a string");
            std::string name(kv.key.via.str.ptr, kv.key.via.str.size);
            double d = 0;
            switch (kv.val.type) {
                case msgpack::type::FLOAT32:
                case msgpack::type::FLOAT64:
                    d = kv.val.via.f64;
                    break;
                case msgpack::type::POSITIVE_INTEGER:
                    d = static_cast<double>(kv.val.via.u64);
                    break;
                case msgpack::type::NEGATIVE_INTEGER:
                    d = static_cast<double>(kv.val.via.i64);
                    break;
                default:
                    return fail_as<NumberMap>(key, "entry \"" + name + "\" is not a number");
            }
            for (const auto& [k, unused] : out) {
                if (k == name) return fail_as<NumberMap>(key, "has \"" + name + "\" twice");
            }
            out.emplace_back(std::move(name), d);
        }
        return out;
    }

    // Keeps the first failure: `key` is the field (empty: the message itself); the message reads
    // `<what>: "<key>" <reason>`.
    std::nullptr_t fail(std::string_view key, std::string_view reason) {
        if (ok()) {
            std::string text = what_ + ": ";
            text += key.empty() ? "the message" : "\"" + std::string(key) + "\"";
            text += ' ';
            text += reason;
            why_ = bad_body(std::move(text), key.empty() ? std::string("body") : std::string(key));
        }
        return nullptr;
    }
    template <class T>
    std::optional<T> fail_as(std::string_view key, std::string_view reason) {
        fail(key, reason);
        return std::nullopt;
    }

  private:
    const msgpack::object& o_;
    std::string what_;
    Status why_;
};

template <class T>
std::optional<T> bad(std::error_code& ec) {
    ec = errc::bad_message;
    return std::nullopt;
}

// A command's tag is "job." + its name, the same as the method that carries it alone (auth/scope.hpp).
constexpr std::pair<Command, std::string_view> kCommands[] = {
    {Command::pause, "job.pause"},
    {Command::resume, "job.resume"},
    {Command::cancel, "job.cancel"},
    {Command::checkpoint, "job.checkpoint"},
    {Command::set_hyperparameters, "job.set_hyperparameters"},
};
constexpr std::size_t kCommandPrefix = 4;  // "job."

constexpr std::pair<LogLevel, std::string_view> kLevels[] = {
    {LogLevel::debug, "debug"},
    {LogLevel::info, "info"},
    {LogLevel::warning, "warning"},
    {LogLevel::error, "error"},
};

constexpr std::string_view kSubmitTag = "job.submit";
constexpr std::string_view kProgressTag = "job.progress";
constexpr std::string_view kMetricsTag = "metrics.update";
constexpr std::string_view kLogTag = "job.log";
constexpr std::string_view kErrorTag = "job.error";
constexpr std::string_view kOutcomeTag = "outcome";

std::string_view command_tag(Command c) noexcept {
    for (const auto& [k, tag] : kCommands) {
        if (k == c) return tag;
    }
    return "job.unknown";
}

// Each reads the fields of its kind from a map whose tag was already read (nullopt: r.why() says why).
std::optional<JobSubmit> read_submit(Reader& r) {
    auto id = r.nonempty_str("job_id");
    const auto* config = r.get("config", msgpack::type::MAP, true);
    if (!r.ok()) return std::nullopt;
    msgpack::sbuffer buf;
    Packer pk(buf);
    pack_object(buf, pk, *config);  // re-encoded from the validated object
    return JobSubmit{std::move(*id), finish(buf)};
}

std::optional<JobCommand> read_command(Reader& r, Command c) {
    auto job_id = r.str("job_id", false);
    auto hp = r.numbers("hyperparameters", false);
    if (!r.ok()) return std::nullopt;
    if (c != Command::set_hyperparameters && !hp->empty()) {
        return r.fail_as<JobCommand>("hyperparameters", "is only for job.set_hyperparameters");
    }
    return JobCommand{c, std::move(*job_id), std::move(*hp)};
}

std::optional<JobProgress> read_progress(Reader& r) {
    auto step = r.uint("step", true);
    auto total_steps = r.uint("total_steps", false);
    auto epoch = r.uint("epoch", true, UINT32_MAX);
    auto total_epochs = r.uint("total_epochs", false, UINT32_MAX);
    auto state = r.str("state", false);
    if (!r.ok()) return std::nullopt;
    return JobProgress{*step, *total_steps, static_cast<std::uint32_t>(*epoch),
                       static_cast<std::uint32_t>(*total_epochs), std::move(*state)};
}

std::optional<MetricsUpdate> read_metrics(Reader& r) {
    auto step = r.uint("step", true);
    auto epoch = r.uint("epoch", true, UINT32_MAX);
    auto metrics = r.numbers("metrics", true);
    if (!r.ok()) return std::nullopt;
    return MetricsUpdate{*step, static_cast<std::uint32_t>(*epoch), std::move(*metrics)};
}

std::optional<JobLog> read_log(Reader& r) {
    auto level = r.str("level");
    auto line = r.str("line");
    auto time_ms = r.uint("time_ms", false);
    if (!r.ok()) return std::nullopt;
    for (const auto& [k, name] : kLevels) {
        if (name == *level) return JobLog{k, std::move(*line), *time_ms};
    }
    return r.fail_as<JobLog>("level", "must be debug, info, warning or error");
}

std::optional<JobError> read_error(Reader& r) {
    auto code = r.nonempty_str("code");
    auto message = r.str("message");
    auto fatal = r.boolean("fatal", false);
    if (!r.ok()) return std::nullopt;
    return JobError{std::move(*code), std::move(*message), *fatal};
}

std::optional<Outcome> read_outcome(Reader& r) {
    auto ok = r.boolean("ok", true);
    if (!r.ok()) return std::nullopt;
    if (*ok) {
        auto m = r.str("message", false);
        if (!r.ok()) return std::nullopt;
        return Outcome{true, "", std::move(*m)};
    }
    auto error = r.str("error");
    auto message = r.str("message");
    if (!r.ok()) return std::nullopt;
    return Outcome{false, std::move(*error), std::move(*message)};
}

template <class T>
std::optional<JobMessage> wrap(std::optional<T> v) {
    if (!v) return std::nullopt;
    return JobMessage(std::move(*v));
}

std::optional<JobMessage> read_message(const msgpack::object& o, const BodyLimits& limits, Status& why) {
    Reader head(o, "job message");
    auto tag = head.str("t");
    if (tag && tag->size() > limits.max_tag) {
        head.fail("t", "is longer than max_tag (" + std::to_string(limits.max_tag) + ")");
    }
    if (!head.ok()) {
        why = head.why();
        return std::nullopt;
    }
    Reader r(o, *tag);
    std::optional<JobMessage> m;
    if (*tag == kSubmitTag) {
        m = wrap(read_submit(r));
    } else if (*tag == kProgressTag) {
        m = wrap(read_progress(r));
    } else if (*tag == kMetricsTag) {
        m = wrap(read_metrics(r));
    } else if (*tag == kLogTag) {
        m = wrap(read_log(r));
    } else if (*tag == kErrorTag) {
        m = wrap(read_error(r));
    } else if (*tag == kOutcomeTag) {
        m = wrap(read_outcome(r));
    } else {
        for (const auto& [c, name] : kCommands) {
            if (name == *tag) m = wrap(read_command(r, c));
        }
        // A kind from a newer peer: the receiver skips it (docs/protocol.md section 8, compatibility).
        if (!m && r.ok()) return JobMessage(Unknown{std::move(*tag)});
    }
    why = r.why();
    return m;
}

// A typed decoder: the message must be of kind T.
template <class T>
std::optional<T> decode_one(std::span<const std::uint8_t> b, std::error_code& ec, const BodyLimits& limits) {
    auto m = decode_job_message(b, ec, limits);
    if (!m) return std::nullopt;
    if (auto* v = std::get_if<T>(&*m)) return std::move(*v);
    return bad<T>(ec);
}

}  // namespace

const char* to_string(Command c) noexcept {
    return command_tag(c).substr(kCommandPrefix).data();
}

const char* to_string(LogLevel l) noexcept {
    for (const auto& [k, name] : kLevels) {
        if (k == l) return name.data();
    }
    return "unknown";
}

std::error_code validate_body(std::span<const std::uint8_t> body, const BodyLimits& limits) {
    std::error_code ec;
    parse(body, limits, ec);
    return ec;
}

std::string_view tag_of(const JobMessage& m) noexcept {
    struct Tag {
        std::string_view operator()(const Unknown& u) const noexcept { return u.tag; }
        std::string_view operator()(const JobSubmit&) const noexcept { return kSubmitTag; }
        std::string_view operator()(const JobCommand& c) const noexcept { return command_tag(c.command); }
        std::string_view operator()(const JobProgress&) const noexcept { return kProgressTag; }
        std::string_view operator()(const MetricsUpdate&) const noexcept { return kMetricsTag; }
        std::string_view operator()(const JobLog&) const noexcept { return kLogTag; }
        std::string_view operator()(const JobError&) const noexcept { return kErrorTag; }
        std::string_view operator()(const Outcome&) const noexcept { return kOutcomeTag; }
    };
    return std::visit(Tag{}, m);
}

std::optional<JobMessage> decode_job_message(std::span<const std::uint8_t> b, Status& why,
                                             const BodyLimits& limits) {
    auto oh = parse(b, limits, why);
    if (!oh) return std::nullopt;
    return read_message(oh->get(), limits, why);
}

std::optional<JobMessage> decode_job_message(std::span<const std::uint8_t> b, std::error_code& ec,
                                             const BodyLimits& limits) {
    Status why;
    auto m = decode_job_message(b, why, limits);
    ec = why.error();
    return m;
}

Bytes encode(const JobMessage& v) {
    return std::visit(
        [](const auto& m) -> Bytes {
            if constexpr (std::is_same_v<std::decay_t<decltype(m)>, Unknown>) {
                msgpack::sbuffer buf;
                Packer pk(buf);
                pack_head(pk, m.tag, 0);
                return finish(buf);
            } else {
                return encode(m);
            }
        },
        v);
}

Bytes encode(const JobSubmit& v) {
    msgpack::sbuffer buf;
    Packer pk(buf);
    pack_head(pk, kSubmitTag, 2);
    pack_str(pk, "job_id");
    pack_str(pk, v.job_id);
    pack_str(pk, "config");
    if (v.config.empty()) {
        pk.pack_map(0);
    } else {
        buf.write(reinterpret_cast<const char*>(v.config.data()), v.config.size());
    }
    return finish(buf);
}

Bytes encode(const JobCommand& v) {
    msgpack::sbuffer buf;
    Packer pk(buf);
    const bool hp = v.command == Command::set_hyperparameters;
    const bool id = !v.job_id.empty();
    pack_head(pk, command_tag(v.command), (hp ? 1U : 0U) + (id ? 1U : 0U));
    if (id) {
        pack_str(pk, "job_id");
        pack_str(pk, v.job_id);
    }
    if (hp) {
        pack_str(pk, "hyperparameters");
        pack_numbers(buf, pk, v.hyperparameters);
    }
    return finish(buf);
}

Bytes encode(const JobProgress& v) {
    msgpack::sbuffer buf;
    Packer pk(buf);
    pack_head(pk, kProgressTag, 5);
    pack_str(pk, "step");
    pk.pack_uint64(v.step);
    pack_str(pk, "total_steps");
    pk.pack_uint64(v.total_steps);
    pack_str(pk, "epoch");
    pk.pack_uint32(v.epoch);
    pack_str(pk, "total_epochs");
    pk.pack_uint32(v.total_epochs);
    pack_str(pk, "state");
    pack_str(pk, v.state);
    return finish(buf);
}

Bytes encode(const MetricsUpdate& v) {
    msgpack::sbuffer buf;
    Packer pk(buf);
    pack_head(pk, kMetricsTag, 3);
    pack_str(pk, "step");
    pk.pack_uint64(v.step);
    pack_str(pk, "epoch");
    pk.pack_uint32(v.epoch);
    pack_str(pk, "metrics");
    pack_numbers(buf, pk, v.metrics);
    return finish(buf);
}

Bytes encode(const JobLog& v) {
    msgpack::sbuffer buf;
    Packer pk(buf);
    pack_head(pk, kLogTag, 3);
    pack_str(pk, "level");
    pack_str(pk, to_string(v.level));
    pack_str(pk, "line");
    pack_str(pk, v.line);
    pack_str(pk, "time_ms");
    pk.pack_uint64(v.time_ms);
    return finish(buf);
}

Bytes encode(const JobError& v) {
    msgpack::sbuffer buf;
    Packer pk(buf);
    pack_head(pk, kErrorTag, 3);
    pack_str(pk, "code");
    pack_str(pk, v.code);
    pack_str(pk, "message");
    pack_str(pk, v.message);
    pack_str(pk, "fatal");
    if (v.fatal) {
        pk.pack_true();
    } else {
        pk.pack_false();
    }
    return finish(buf);
}

Bytes encode(const Outcome& v) {
    msgpack::sbuffer buf;
    Packer pk(buf);
    pack_head(pk, kOutcomeTag, v.ok ? (v.message.empty() ? 1 : 2) : 3);
    pack_str(pk, "ok");
    if (v.ok) {
        pk.pack_true();
        if (!v.message.empty()) {
            pack_str(pk, "message");
            pack_str(pk, v.message);
        }
    } else {
        pk.pack_false();
        pack_str(pk, "error");
        pack_str(pk, v.error);
        pack_str(pk, "message");
        pack_str(pk, v.message);
    }
    return finish(buf);
}

Bytes encode(const ContentFetch& v) {
    msgpack::sbuffer buf;
    Packer pk(buf);
    pk.pack_map(2);
    pack_str(pk, "cid");
    pack_str(pk, v.cid);
    pack_str(pk, "skip_blocks");
    pk.pack_uint64(v.skip_blocks);
    return finish(buf);
}

Bytes encode(const ContentBlock& v) {
    msgpack::sbuffer buf;
    Packer pk(buf);
    pk.pack_map(2);
    pack_str(pk, "cid");
    pack_bin(pk, v.cid);
    pack_str(pk, "data");
    pack_bin(pk, v.data);
    return finish(buf);
}

std::optional<JobSubmit> decode_job_submit(std::span<const std::uint8_t> b, std::error_code& ec,
                                           const BodyLimits& limits) {
    return decode_one<JobSubmit>(b, ec, limits);
}

std::optional<JobCommand> decode_job_command(std::span<const std::uint8_t> b, std::error_code& ec,
                                             const BodyLimits& limits) {
    return decode_one<JobCommand>(b, ec, limits);
}

std::optional<MetricsUpdate> decode_metrics_update(std::span<const std::uint8_t> b, std::error_code& ec,
                                                   const BodyLimits& limits) {
    return decode_one<MetricsUpdate>(b, ec, limits);
}

std::optional<Outcome> decode_outcome(std::span<const std::uint8_t> b, std::error_code& ec,
                                      const BodyLimits& limits) {
    return decode_one<Outcome>(b, ec, limits);
}

std::optional<ContentFetch> decode_content_fetch(std::span<const std::uint8_t> b, std::error_code& ec,
                                                 const BodyLimits& limits) {
    auto oh = parse(b, limits, ec);
    if (!oh) return std::nullopt;
    Reader r(oh->get(), "content.fetch");
    auto cid = r.nonempty_str("cid");
    auto skip = r.uint("skip_blocks", false);
    if (!r.ok()) return bad<ContentFetch>(ec);
    return ContentFetch{std::move(*cid), *skip};
}

BodyLimits content_block_limits(std::size_t max_block_size) {
    BodyLimits l;
    l.max_bytes = max_block_size + 1024;
    l.max_binary = std::max(l.max_binary, max_block_size);
    return l;
}

namespace {
// msgpack-c: a reference function returning true makes the object point into the input instead of copying
// the bytes into its zone.
bool reference_bin(msgpack::type::object_type type, std::size_t, void*) {
    return type == msgpack::type::BIN;
}
}  // namespace

// Every block of a download comes through here, so nothing is copied: both bins are referenced in place and
// the zone (which then holds only the map's entries) is kept per thread and cleared after each message.
std::optional<ContentBlockView> decode_content_block_view(std::span<const std::uint8_t> b,
                                                          std::error_code& ec, const BodyLimits& limits) {
    ec.clear();
    if (b.size() > limits.max_bytes) {
        ec = errc::message_too_large;
        return std::nullopt;
    }
    thread_local msgpack::zone zone;
    struct ClearZone {
        ~ClearZone() { zone.clear(); }
    } clear_after;
    try {
        std::size_t off = 0;
        const msgpack::object o = msgpack::unpack(zone, reinterpret_cast<const char*>(b.data()), b.size(),
                                                  off, reference_bin, nullptr, unpack_limit_for(b, limits));
        if (off != b.size()) return bad<ContentBlockView>(ec);  // trailing bytes
        Reader r(o, "content block");
        auto cid = r.bin_view("cid");
        auto data = r.bin_view("data");
        if (!r.ok() || !cid || !data) return bad<ContentBlockView>(ec);
        return ContentBlockView{*cid, *data};
    } catch (const std::exception&) {
        return bad<ContentBlockView>(ec);
    }
}

std::optional<ContentBlock> decode_content_block(std::span<const std::uint8_t> b, std::error_code& ec,
                                                 const BodyLimits& limits) {
    auto v = decode_content_block_view(b, ec, limits);
    if (!v) return std::nullopt;
    return ContentBlock{Bytes(v->cid.begin(), v->cid.end()), Bytes(v->data.begin(), v->data.end())};
}

}  // namespace cyxp2p::protocol
