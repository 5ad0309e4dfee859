// msgpack-c's packer does the encoding (smallest forms, msgpack spec "Formats"), into the builder's bytes.
#include <bit>
#include <stdexcept>

#include <msgpack.hpp>

#include <cyxp2p/protocol/body_builder.hpp>

namespace cyxp2p::protocol {
namespace {

// The packer's stream: appends to a byte vector.
struct Append {
    std::vector<std::uint8_t>& out;
    void write(const char* p, std::size_t n) { out.insert(out.end(), p, p + n); }
};

using Packer = msgpack::packer<Append>;

struct Pack {
    Append sink;
    Packer pk{sink};
    explicit Pack(std::vector<std::uint8_t>& out) : sink{out} {}

    void str(std::string_view s) {
        pk.pack_str(static_cast<std::uint32_t>(s.size()));
        pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
    }
    void bin(std::span<const std::uint8_t> b) {
        pk.pack_bin(static_cast<std::uint32_t>(b.size()));
        pk.pack_bin_body(reinterpret_cast<const char*>(b.data()), static_cast<std::uint32_t>(b.size()));
    }
    void boolean(bool v) {
        if (v) {
            pk.pack_true();
        } else {
            pk.pack_false();
        }
    }
    // Always float 64 (msgpack spec 0xcb): msgpack-c's pack_double writes an integral value as an integer.
    void float64(double v) {
        const auto bits = std::bit_cast<std::uint64_t>(v);
        char out[9] = {static_cast<char>(0xCB)};
        for (int i = 0; i < 8; ++i) out[1 + i] = static_cast<char>((bits >> (56 - 8 * i)) & 0xFF);
        sink.write(out, sizeof out);
    }
    void raw(const std::vector<std::uint8_t>& b) {
        sink.write(reinterpret_cast<const char*>(b.data()), b.size());
    }
};

}  // namespace

void MapBuilder::key(std::string_view k) {
    for (const auto& existing : keys_) {
        if (existing == k)
            throw std::invalid_argument("MapBuilder: key \"" + std::string(k) + "\" added twice");
    }
    keys_.emplace_back(k);
    Pack(entries_).str(k);
}

MapBuilder& MapBuilder::add(std::string_view k, std::string_view value) {
    key(k);
    Pack(entries_).str(value);
    return *this;
}

MapBuilder& MapBuilder::add(std::string_view k, const char* value) {
    return add(k, std::string_view(value));
}

MapBuilder& MapBuilder::add(std::string_view k, bool value) {
    key(k);
    Pack(entries_).boolean(value);
    return *this;
}

MapBuilder& MapBuilder::add(std::string_view k, double value) {
    key(k);
    Pack(entries_).float64(value);
    return *this;
}

MapBuilder& MapBuilder::add_signed(std::string_view k, std::int64_t value) {
    key(k);
    Pack(entries_).pk.pack_int64(value);
    return *this;
}

MapBuilder& MapBuilder::add_unsigned(std::string_view k, std::uint64_t value) {
    key(k);
    Pack(entries_).pk.pack_uint64(value);
    return *this;
}

MapBuilder& MapBuilder::add_binary(std::string_view k, std::span<const std::uint8_t> value) {
    key(k);
    Pack(entries_).bin(value);
    return *this;
}

MapBuilder& MapBuilder::add(std::string_view k, const MapBuilder& value) {
    key(k);
    Pack(entries_).raw(value.build());
    return *this;
}

MapBuilder& MapBuilder::add(std::string_view k, const ArrayBuilder& value) {
    key(k);
    Pack(entries_).raw(value.build());
    return *this;
}

MapBuilder& MapBuilder::add_nil(std::string_view k) {
    key(k);
    Pack(entries_).pk.pack_nil();
    return *this;
}

std::vector<std::uint8_t> MapBuilder::build() const {
    std::vector<std::uint8_t> out;
    out.reserve(entries_.size() + 5);
    Pack(out).pk.pack_map(static_cast<std::uint32_t>(keys_.size()));
    out.insert(out.end(), entries_.begin(), entries_.end());
    return out;
}

ArrayBuilder& ArrayBuilder::push(std::string_view value) {
    Pack(elements_).str(value);
    ++count_;
    return *this;
}

ArrayBuilder& ArrayBuilder::push(const char* value) {
    return push(std::string_view(value));
}

ArrayBuilder& ArrayBuilder::push(bool value) {
    Pack(elements_).boolean(value);
    ++count_;
    return *this;
}

ArrayBuilder& ArrayBuilder::push(double value) {
    Pack(elements_).float64(value);
    ++count_;
    return *this;
}

ArrayBuilder& ArrayBuilder::push_signed(std::int64_t value) {
    Pack(elements_).pk.pack_int64(value);
    ++count_;
    return *this;
}

ArrayBuilder& ArrayBuilder::push_unsigned(std::uint64_t value) {
    Pack(elements_).pk.pack_uint64(value);
    ++count_;
    return *this;
}

ArrayBuilder& ArrayBuilder::push_binary(std::span<const std::uint8_t> value) {
    Pack(elements_).bin(value);
    ++count_;
    return *this;
}

ArrayBuilder& ArrayBuilder::push(const MapBuilder& value) {
    Pack(elements_).raw(value.build());
    ++count_;
    return *this;
}

ArrayBuilder& ArrayBuilder::push(const ArrayBuilder& value) {
    Pack(elements_).raw(value.build());
    ++count_;
    return *this;
}

ArrayBuilder& ArrayBuilder::push_nil() {
    Pack(elements_).pk.pack_nil();
    ++count_;
    return *this;
}

std::vector<std::uint8_t> ArrayBuilder::build() const {
    std::vector<std::uint8_t> out;
    out.reserve(elements_.size() + 5);
    Pack(out).pk.pack_array(static_cast<std::uint32_t>(count_));
    out.insert(out.end(), elements_.begin(), elements_.end());
    return out;
}

}  // namespace cyxp2p::protocol
