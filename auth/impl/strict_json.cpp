#include <string>
#include <vector>

#include <cyxp2p/auth/detail/strict_json.hpp>

namespace cyxp2p::auth::detail {
namespace {

using json = nlohmann::json;

// Builds the DOM itself so it can see every member name as it arrives: nlohmann's own DOM parser keeps
// the last of two duplicate members without telling anyone, which RFC 7515 5.2 and RFC 8725 forbid us
// to rely on. Returning false from any callback stops the parse.
class StrictSax final : public nlohmann::json_sax<json> {
  public:
    StrictSax(std::size_t max_depth, bool array_ok) : max_depth_(max_depth), array_ok_(array_ok) {}

    json result;

    bool null() override { return put(json(nullptr)); }
    bool boolean(bool v) override { return put(json(v)); }
    bool number_integer(number_integer_t v) override { return put(json(v)); }
    bool number_unsigned(number_unsigned_t v) override { return put(json(v)); }
    bool number_float(number_float_t v, const string_t&) override { return put(json(v)); }
    bool string(string_t& v) override { return put(json(std::move(v))); }
    bool binary(binary_t&) override { return false; }  // not produced by the JSON lexer

    bool start_object(std::size_t) override { return open(json::object()); }
    bool key(string_t& k) override {
        json& obj = *stack_.back();
        if (obj.contains(k)) return false;  // duplicate member name
        pending_key_ = std::move(k);
        return true;
    }
    bool end_object() override { return close(); }
    bool start_array(std::size_t) override { return open(json::array()); }
    bool end_array() override { return close(); }

    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
        return false;
    }

  private:
    json* place(json&& v) {
        if (stack_.empty()) {
            result = std::move(v);
            return &result;
        }
        json& parent = *stack_.back();
        if (parent.is_array()) {
            parent.push_back(std::move(v));
            return &parent.back();
        }
        json& slot = parent[pending_key_];
        slot = std::move(v);
        return &slot;
    }
    bool put(json&& v) {
        if (stack_.empty()) return false;  // top level must be an object
        place(std::move(v));
        return true;
    }
    bool open(json&& container) {
        if (stack_.empty() && !container.is_object() && !(array_ok_ && container.is_array())) return false;
        if (stack_.size() >= max_depth_) return false;
        stack_.push_back(place(std::move(container)));
        return true;
    }
    bool close() {
        stack_.pop_back();
        return true;
    }

    std::size_t max_depth_;
    bool array_ok_;
    std::vector<json*> stack_;
    std::string pending_key_;
};

}  // namespace

namespace {
std::optional<json> parse(std::string_view text, std::size_t max_depth, bool array_ok) {
    // A BOM is not part of JSON text sent over the wire (RFC 8259 8.1); nlohmann would skip it.
    if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF) return std::nullopt;
    StrictSax sax(max_depth, array_ok);
    const bool ok = json::sax_parse(text.begin(), text.end(), &sax, json::input_format_t::json, true,
                                    /*ignore_comments=*/false);
    if (!ok || !(sax.result.is_object() || (array_ok && sax.result.is_array()))) return std::nullopt;
    return std::move(sax.result);
}
}  // namespace

std::optional<json> parse_strict_object(std::string_view text, std::size_t max_depth) {
    return parse(text, max_depth, false);
}

std::optional<json> parse_strict_document(std::string_view text, std::size_t max_depth) {
    return parse(text, max_depth, true);
}

}  // namespace cyxp2p::auth::detail
