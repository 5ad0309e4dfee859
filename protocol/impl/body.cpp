// msgpack-c (v3 API) does the parsing; its unpack_limit caps every container, string and depth, and the
// container caps are also bounded by the body size so that a header announcing 2^32 elements cannot make
// it allocate for them (each element needs at least one byte of input).
#include <algorithm>

#include <msgpack.hpp>

#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/errc.hpp>

namespace cyxp2p::protocol {
namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;

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

void pack_numbers(Packer& pk, const NumberMap& m) {
    pk.pack_map(static_cast<std::uint32_t>(m.size()));
    for (const auto& [k, v] : m) {
        pack_str(pk, k);
        pk.pack_double(v);
    }
}

msgpack::unpack_limit unpack_limit_for(std::span<const std::uint8_t> b, const BodyLimits& limits) {
    const std::size_t container = std::min(limits.max_container, b.size());
    return {container, container,       limits.max_string, std::min(limits.max_binary, b.size()),
            0,         limits.max_depth};
}

std::optional<msgpack::object_handle> parse(std::span<const std::uint8_t> b, const BodyLimits& limits,
                                            std::error_code& ec) {
    ec.clear();
    if (b.size() > limits.max_bytes) {
        ec = errc::message_too_large;
        return std::nullopt;
    }
    const msgpack::unpack_limit lim = unpack_limit_for(b, limits);
    try {
        std::size_t off = 0;
        msgpack::object_handle oh =
            msgpack::unpack(reinterpret_cast<const char*>(b.data()), b.size(), off, nullptr, nullptr, lim);
        if (off != b.size()) {
            ec = errc::bad_message;  // trailing bytes
            return std::nullopt;
        }
        return oh;
    } catch (const std::exception&) {
        ec = errc::bad_message;
        return std::nullopt;
    }
}

// Looks a key up in a map object; nullptr when absent. Duplicate keys are refused (ambiguous).
const msgpack::object* field(const msgpack::object& map, std::string_view key, bool& duplicate) {
    const msgpack::object* found = nullptr;
    for (std::uint32_t i = 0; i < map.via.map.size; ++i) {
        const auto& kv = map.via.map.ptr[i];
        if (kv.key.type == msgpack::type::STR &&
            std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == key) {
            if (found != nullptr) duplicate = true;
            found = &kv.val;
        }
    }
    return found;
}

class Reader {
  public:
    Reader(const msgpack::object& o) : o_(o), ok_(o.type == msgpack::type::MAP) {}

    bool ok() const { return ok_; }

    const msgpack::object* get(std::string_view key, msgpack::type::object_type type, bool required) {
        if (!ok_) return nullptr;
        bool dup = false;
        const msgpack::object* v = field(o_, key, dup);
        if (dup || (v == nullptr && required) || (v != nullptr && v->type != type)) {
            ok_ = false;
            return nullptr;
        }
        return v;
    }
    std::optional<std::string> str(std::string_view key) {
        const auto* v = get(key, msgpack::type::STR, true);
        if (v == nullptr) return std::nullopt;
        return std::string(v->via.str.ptr, v->via.str.size);
    }
    std::optional<std::uint64_t> uint(std::string_view key, bool required) {
        const auto* v = get(key, msgpack::type::POSITIVE_INTEGER, required);
        if (v == nullptr) return ok_ ? std::optional<std::uint64_t>(0) : std::nullopt;
        return v->via.u64;
    }
    std::optional<Bytes> bin(std::string_view key) {
        auto v = bin_view(key);
        if (!v) return std::nullopt;
        return Bytes(v->begin(), v->end());
    }
    std::optional<std::span<const std::uint8_t>> bin_view(std::string_view key) {
        const auto* v = get(key, msgpack::type::BIN, true);
        if (v == nullptr) return std::nullopt;
        return std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(v->via.bin.ptr),
                                             v->via.bin.size);
    }
    std::optional<NumberMap> numbers(std::string_view key, bool required) {
        const auto* v = get(key, msgpack::type::MAP, required);
        if (v == nullptr) return ok_ ? std::optional<NumberMap>(NumberMap{}) : std::nullopt;
        NumberMap out;
        for (std::uint32_t i = 0; i < v->via.map.size; ++i) {
            const auto& kv = v->via.map.ptr[i];
            if (kv.key.type != msgpack::type::STR) return fail<NumberMap>();
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
                    return fail<NumberMap>();
            }
            std::string name(kv.key.via.str.ptr, kv.key.via.str.size);
            for (const auto& [k, unused] : out) {
                if (k == name) return fail<NumberMap>();  // duplicate metric name
            }
            out.emplace_back(std::move(name), d);
        }
        return out;
    }

  private:
    template <class T>
    std::optional<T> fail() {
        ok_ = false;
        return std::nullopt;
    }
    const msgpack::object& o_;
    bool ok_;
};

template <class T>
std::optional<T> bad(std::error_code& ec) {
    ec = errc::bad_message;
    return std::nullopt;
}

constexpr std::pair<Command, std::string_view> kCommands[] = {
    {Command::pause, "pause"},
    {Command::resume, "resume"},
    {Command::cancel, "cancel"},
    {Command::checkpoint, "checkpoint"},
    {Command::set_hyperparameters, "set_hyperparameters"},
};

}  // namespace

const char* to_string(Command c) noexcept {
    for (const auto& [k, name] : kCommands) {
        if (k == c) return name.data();
    }
    return "unknown";
}

std::error_code validate_body(std::span<const std::uint8_t> body, const BodyLimits& limits) {
    std::error_code ec;
    parse(body, limits, ec);
    return ec;
}

Bytes encode(const JobSubmit& v) {
    msgpack::sbuffer buf;
    Packer pk(buf);
    pk.pack_map(2);
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

Bytes encode(const MetricsUpdate& v) {
    msgpack::sbuffer buf;
    Packer pk(buf);
    pk.pack_map(3);
    pack_str(pk, "step");
    pk.pack_uint64(v.step);
    pack_str(pk, "epoch");
    pk.pack_uint32(v.epoch);
    pack_str(pk, "metrics");
    pack_numbers(pk, v.metrics);
    return finish(buf);
}

Bytes encode(const TrainingCommand& v) {
    msgpack::sbuffer buf;
    Packer pk(buf);
    const bool hp = v.command == Command::set_hyperparameters;
    pk.pack_map(hp ? 2 : 1);
    pack_str(pk, "command");
    pack_str(pk, to_string(v.command));
    if (hp) {
        pack_str(pk, "hyperparameters");
        pack_numbers(pk, v.hyperparameters);
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

Bytes encode(const StatusBody& v) {
    msgpack::sbuffer buf;
    Packer pk(buf);
    pk.pack_map(v.ok ? (v.message.empty() ? 1 : 2) : 3);
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

std::optional<JobSubmit> decode_job_submit(std::span<const std::uint8_t> b, std::error_code& ec,
                                           const BodyLimits& limits) {
    auto oh = parse(b, limits, ec);
    if (!oh) return std::nullopt;
    Reader r(oh->get());
    auto id = r.str("job_id");
    const auto* config = r.get("config", msgpack::type::MAP, true);
    if (!r.ok() || !id || config == nullptr || id->empty()) return bad<JobSubmit>(ec);
    msgpack::sbuffer buf;
    msgpack::pack(buf, *config);  // re-encoded canonically from the validated object
    return JobSubmit{std::move(*id), finish(buf)};
}

std::optional<MetricsUpdate> decode_metrics_update(std::span<const std::uint8_t> b, std::error_code& ec,
                                                   const BodyLimits& limits) {
    auto oh = parse(b, limits, ec);
    if (!oh) return std::nullopt;
    Reader r(oh->get());
    auto step = r.uint("step", true);
    auto epoch = r.uint("epoch", true);
    auto metrics = r.numbers("metrics", true);
    if (!r.ok() || !step || !epoch || !metrics || *epoch > UINT32_MAX) return bad<MetricsUpdate>(ec);
    return MetricsUpdate{*step, static_cast<std::uint32_t>(*epoch), std::move(*metrics)};
}

std::optional<TrainingCommand> decode_training_command(std::span<const std::uint8_t> b, std::error_code& ec,
                                                       const BodyLimits& limits) {
    auto oh = parse(b, limits, ec);
    if (!oh) return std::nullopt;
    Reader r(oh->get());
    auto name = r.str("command");
    auto hp = r.numbers("hyperparameters", false);
    if (!r.ok() || !name || !hp) return bad<TrainingCommand>(ec);
    for (const auto& [k, text] : kCommands) {
        if (text == *name) {
            if (k != Command::set_hyperparameters && !hp->empty()) return bad<TrainingCommand>(ec);
            return TrainingCommand{k, std::move(*hp)};
        }
    }
    return bad<TrainingCommand>(ec);
}

std::optional<ContentFetch> decode_content_fetch(std::span<const std::uint8_t> b, std::error_code& ec,
                                                 const BodyLimits& limits) {
    auto oh = parse(b, limits, ec);
    if (!oh) return std::nullopt;
    Reader r(oh->get());
    auto cid = r.str("cid");
    auto skip = r.uint("skip_blocks", false);
    if (!r.ok() || !cid || !skip || cid->empty()) return bad<ContentFetch>(ec);
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
        Reader r(o);
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

std::optional<StatusBody> decode_status(std::span<const std::uint8_t> b, std::error_code& ec,
                                        const BodyLimits& limits) {
    auto oh = parse(b, limits, ec);
    if (!oh) return std::nullopt;
    Reader r(oh->get());
    const auto* ok = r.get("ok", msgpack::type::BOOLEAN, true);
    if (!r.ok() || ok == nullptr) return bad<StatusBody>(ec);
    if (ok->via.boolean) {
        const auto* m = r.get("message", msgpack::type::STR, false);
        if (!r.ok()) return bad<StatusBody>(ec);
        return StatusBody{true, "", m != nullptr ? std::string(m->via.str.ptr, m->via.str.size) : ""};
    }
    auto error = r.str("error");
    auto message = r.str("message");
    if (!r.ok() || !error || !message) return bad<StatusBody>(ec);
    return StatusBody{false, std::move(*error), std::move(*message)};
}

}  // namespace cyxp2p::protocol
