// Builders for msgpack maps and arrays (msgpack spec: str, int, float 64, bool, nil, bin, map, array), such
// as the config of a JobSubmit, without msgpack headers: values are encoded as they are added. Nesting is
// building the inner map or array first and adding it. What a receiver accepts is bounded by its BodyLimits
// (body.hpp); the builder does not check them (validate_body does).
#pragma once

#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace cyxp2p::protocol {

class ArrayBuilder;

/// One msgpack map with string keys, entries in the order added. Adding a key twice is a programmer error
/// (std::invalid_argument): the receiver would refuse the map as ambiguous.
class MapBuilder {
  public:
    /// A str value.
    MapBuilder& add(std::string_view key, std::string_view value);
    /// A str value (without this overload a string literal would convert to bool).
    MapBuilder& add(std::string_view key, const char* value);
    /// A bool value.
    MapBuilder& add(std::string_view key, bool value);
    /// A float 64 value.
    MapBuilder& add(std::string_view key, double value);
    /// An integer value, in msgpack's smallest form (signed types that are negative as negative integers).
    template <std::integral I>
    requires(!std::same_as<I, bool>) MapBuilder& add(std::string_view key, I value) {
        if constexpr (std::is_signed_v<I>) {
            return add_signed(key, value);
        } else {
            return add_unsigned(key, value);
        }
    }
    /// A bin value.
    MapBuilder& add_binary(std::string_view key, std::span<const std::uint8_t> value);
    /// A nested map (its entries as built so far).
    MapBuilder& add(std::string_view key, const MapBuilder& value);
    /// A nested array (its elements as built so far).
    MapBuilder& add(std::string_view key, const ArrayBuilder& value);
    /// A nil value.
    MapBuilder& add_nil(std::string_view key);

    /// Entries added so far.
    std::size_t size() const noexcept { return keys_.size(); }
    /// The msgpack map: a header for size() entries, then the entries.
    std::vector<std::uint8_t> build() const;

  private:
    MapBuilder& add_signed(std::string_view key, std::int64_t value);
    MapBuilder& add_unsigned(std::string_view key, std::uint64_t value);
    void key(std::string_view k);

    std::vector<std::uint8_t> entries_;
    std::vector<std::string> keys_;
};

/// One msgpack array, elements in the order pushed.
class ArrayBuilder {
  public:
    /// A str element.
    ArrayBuilder& push(std::string_view value);
    /// A str element (without this overload a string literal would convert to bool).
    ArrayBuilder& push(const char* value);
    /// A bool element.
    ArrayBuilder& push(bool value);
    /// A float 64 element.
    ArrayBuilder& push(double value);
    /// An integer element, in msgpack's smallest form.
    template <std::integral I>
    requires(!std::same_as<I, bool>) ArrayBuilder& push(I value) {
        if constexpr (std::is_signed_v<I>) {
            return push_signed(value);
        } else {
            return push_unsigned(value);
        }
    }
    /// A bin element.
    ArrayBuilder& push_binary(std::span<const std::uint8_t> value);
    /// A nested map.
    ArrayBuilder& push(const MapBuilder& value);
    /// A nested array.
    ArrayBuilder& push(const ArrayBuilder& value);
    /// A nil element.
    ArrayBuilder& push_nil();

    /// Elements pushed so far.
    std::size_t size() const noexcept { return count_; }
    /// The msgpack array: a header for size() elements, then the elements.
    std::vector<std::uint8_t> build() const;

  private:
    ArrayBuilder& push_signed(std::int64_t value);
    ArrayBuilder& push_unsigned(std::uint64_t value);

    std::vector<std::uint8_t> elements_;
    std::size_t count_ = 0;
};

}  // namespace cyxp2p::protocol
