#include "local_checks.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <vector>

#include <cyxp2p/pinning/errc.hpp>

namespace cyxp2p::tools {
namespace {

constexpr std::string_view kSpace = " \t\r\n";

std::string_view trim(std::string_view s) {
    const auto b = s.find_first_not_of(kSpace);
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

bool base64url_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// Reads at most `max` bytes of a file or of standard input ("-"); a larger input is reported by
// returning max + 1 bytes, so /dev/zero or a mistyped multi-GiB path cannot exhaust memory.
std::optional<std::string> read_bounded(const std::string& path, std::size_t max, std::error_code& ec) {
    std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        ec = std::error_code(errno, std::generic_category());
        return std::nullopt;
    }
    std::string out(max + 1, '\0');
    std::size_t n = 0;
    while (n < out.size()) {
        const std::size_t got = std::fread(out.data() + n, 1, out.size() - n, f);
        if (got == 0) break;
        n += got;
    }
    const bool bad = std::ferror(f) != 0;
    const int err = errno;
    if (f != stdin) std::fclose(f);
    if (bad) {
        ec = std::error_code(err != 0 ? err : EIO, std::generic_category());
        return std::nullopt;
    }
    out.resize(n);
    return out;
}

InputError io(std::string code, std::string message) {
    return {Exit::io, std::move(code), std::move(message)};
}

// What a pin entry should look like, for messages.
constexpr const char* kPinShape =
    "a pin is sha256// followed by 44 base64 characters ending in '=' (the SHA-256 of the node's key, as "
    "'p2p-probe pin node.crt' prints it)";

std::string describe_pin_error(std::string_view item, const std::error_code& ec) {
    using pinning::errc;
    const std::string quoted = "'" + std::string(item.substr(0, 80)) + (item.size() > 80 ? "...'" : "'");
    switch (static_cast<errc>(ec.value())) {
        case errc::wrong_prefix:
            if (item.find("//") == std::string_view::npos && item.size() == 44)
                return quoted + " has no 'sha256//' in front: " + kPinShape;
            return quoted + " does not start with 'sha256//': " + kPinShape;
        case errc::bad_base64:
        case errc::wrong_digest_length: {
            const std::string_view digest = item.substr(std::string_view("sha256//").size());
            std::string why;
            for (char c : digest) {
                const bool ok = base64url_char(c) || c == '+' || c == '/' || c == '=';
                if (!ok) {
                    why = " contains '" + std::string(1, c) + "', which is not a base64 character;";
                    break;
                }
            }
            if (why.empty() &&
                (digest.find('-') != std::string_view::npos || digest.find('_') != std::string_view::npos))
                why = " uses base64url ('-', '_'); pins use standard base64 ('+', '/');";
            if (why.empty() && digest.size() == 43 && digest.back() != '=')
                why = " has 43 characters after sha256//: is the trailing '=' missing?";
            if (why.empty())
                why = " has " + std::to_string(digest.size()) + " characters after sha256//, not 44;";
            return quoted + why + " " + kPinShape;
        }
        default:
            return quoted + ": " + ec.message();
    }
}

}  // namespace

bool looks_like_jwt(std::string_view s) {
    s = trim(s);
    if (s.size() < 16 || s.substr(0, 3) != "eyJ") return false;
    std::size_t dots = 0;
    for (char c : s) {
        if (c == '.') {
            ++dots;
        } else if (!base64url_char(c)) {
            return false;
        }
    }
    return dots == 2;
}

std::optional<InputError> check_token_syntax(std::string_view token, const std::string& where,
                                             const InputLimits& limits) {
    if (token.empty()) {
        return InputError{Exit::bad_input, "empty_token",
                          where +
                              " holds no token (empty or only whitespace): mint one with 'p2p-probe token "
                              "mint' or ask the Central Server"};
    }
    if (token.size() > limits.max_token_bytes) {
        return InputError{Exit::bad_input, "token_too_large",
                          where + " holds more than " + std::to_string(limits.max_token_bytes) +
                              " bytes, which is no P2P token: check that it is the token file"};
    }
    std::size_t segments = 1;
    bool empty_segment = false, bad_char = false;
    std::size_t run = 0;
    for (char c : token) {
        if (c == '.') {
            empty_segment |= run == 0;
            ++segments;
            run = 0;
        } else {
            bad_char |= !base64url_char(c);
            ++run;
        }
    }
    empty_segment |= run == 0;
    if (segments != 3 || empty_segment || bad_char) {
        // RFC 7515 7.1: BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(signature).
        std::string what = segments != 3 ? std::to_string(segments) + " segment" + (segments == 1 ? "" : "s")
                           : empty_segment ? "an empty segment"
                                           : "characters outside base64url (whitespace, quotes, ...)";
        return InputError{Exit::bad_input, "malformed",
                          where +
                              " is not a JWT: expected three base64url segments separated by '.', found " +
                              what + " (the token itself is not printed)"};
    }
    return std::nullopt;
}

std::optional<std::string> read_token(std::string_view option, const std::string& arg, TokenSource source,
                                      InputError& error, const InputLimits& limits) {
    const std::string opt(option);
    std::string where;
    std::string text;
    if (arg == "-") {
        where = "standard input (" + opt + " -)";
        std::error_code ec;
        auto in = read_bounded("-", limits.max_token_bytes, ec);
        if (!in) {
            error = io("io_error", "cannot read the token from standard input: " + ec.message());
            return std::nullopt;
        }
        text = std::move(*in);
    } else if (source == TokenSource::inline_or_stdin) {
        where = "the token argument";
        text = arg;
    } else {
        std::error_code exists_ec;
        if (looks_like_jwt(arg) && !std::filesystem::exists(arg, exists_ec)) {
            error = {Exit::usage, "token_not_a_file",
                     opt +
                         " takes a file or - (standard input), and this value looks like the token itself; "
                         "it is not printed. Save it to a file (chmod 600) or pipe it: printf '%s' \"$T\" | "
                         "p2p-probe ... " +
                         opt + " -"};
            return std::nullopt;
        }
        // A path is not a secret, unless it is a token that does not look like one: print at most a
        // short prefix of values that could be.
        const std::string shown = looks_like_jwt(arg) || arg.size() > 200 ? "(value not printed)" : arg;
        where = "the token file " + shown;
        std::error_code ec;
        if (std::filesystem::is_directory(arg, ec)) {
            error = io("io_error", opt + " " + shown + " is a directory: give the token file");
            return std::nullopt;
        }
        auto in = read_bounded(arg, limits.max_token_bytes, ec);
        if (!in) {
            error = io("io_error", "cannot read " + where + ": " + ec.message() + " (" + opt +
                                       " takes a file holding the token, or - for standard input)");
            return std::nullopt;
        }
        text = std::move(*in);
    }
    const std::string_view token = trim(text);
    if (auto e = check_token_syntax(token, where, limits)) {
        error = std::move(*e);
        return std::nullopt;
    }
    return std::string(token);
}

std::optional<pinning::PinSet> parse_pin_list(std::string_view option, std::string_view list,
                                              InputError& error, const InputLimits& limits) {
    const std::string opt(option);
    auto bad = [&](std::string code, std::string message) -> std::optional<pinning::PinSet> {
        error = {Exit::bad_input, std::move(code), opt + ": " + std::move(message)};
        return std::nullopt;
    };
    if (list.size() > limits.max_pin_list_bytes)
        return bad("pin_list_too_long",
                   "the pin list is longer than " + std::to_string(limits.max_pin_list_bytes) + " bytes");
    if (trim(list).empty())
        return bad("empty_pin_list", "the pin list is empty: give at least one sha256//... pin");
    std::vector<pinning::Pin> pins;
    std::size_t offset = 0;
    for (std::size_t entry = 1;; ++entry) {
        const std::size_t end = list.find(';', offset);
        const std::string_view item =
            trim(list.substr(offset, end == std::string_view::npos ? std::string_view::npos : end - offset));
        const std::string at = "entry " + std::to_string(entry) + " ";
        if (item.empty()) return bad("empty_entry", at + "is empty: remove the stray ';'");
        std::error_code ec;
        auto pin = pinning::Pin::parse(item, ec);
        if (!pin)
            return bad(pinning::to_string(static_cast<pinning::errc>(ec.value())),
                       at + describe_pin_error(item, ec));
        pins.push_back(*pin);
        if (end == std::string_view::npos) break;
        offset = end + 1;
    }
    pinning::Pin current = pins.front();
    pins.erase(pins.begin());
    return pinning::PinSet(current, std::move(pins));
}

std::optional<std::chrono::milliseconds> parse_timeout_ms(std::string_view option, const std::string& value,
                                                          InputError& error, const InputLimits& limits) {
    std::uint64_t ms = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    if (ec != std::errc{} || end != value.data() + value.size() || ms < 1 || ms > limits.max_timeout_ms) {
        error = {Exit::usage, "usage",
                 std::string(option) + " must be whole milliseconds, 1.." +
                     std::to_string(limits.max_timeout_ms) + ", not '" + value + "'"};
        return std::nullopt;
    }
    return std::chrono::milliseconds(ms);
}

std::optional<InputError> check_output_path(const std::filesystem::path& path, bool force) {
    namespace fs = std::filesystem;
    if (path.empty()) return InputError{Exit::usage, "usage", "the output file name is empty"};
    const std::string p = path.string();
    std::error_code ec;
    const auto st = fs::status(path, ec);
    if (fs::is_directory(st)) {
        return io("output_is_directory",
                  p + " is a directory: give the file to create, e.g. " + (fs::path(p) / "NAME").string());
    }
    if (fs::exists(st)) {
        if (!force)
            return io("output_exists", p + " exists: pass --force to replace it, or choose another name");
        if (!fs::is_regular_file(st))
            return io("output_not_regular", p + " exists and is not a regular file");
    }
    fs::path parent = path.parent_path();
    if (parent.empty()) parent = ".";
    const auto pst = fs::status(parent, ec);
    if (!fs::exists(pst)) {
        return io("output_dir_missing", "the directory " + parent.string() +
                                            " does not exist: create it (mkdir -p " + parent.string() +
                                            ") or choose another output path");
    }
    if (!fs::is_directory(pst)) return io("output_dir_missing", parent.string() + " is not a directory");
    // The file is written as a temporary beside the destination and renamed into place, so the directory
    // itself must be writable.
    if (::access(parent.c_str(), W_OK | X_OK) != 0) {
        return io("output_not_writable", "cannot create files in " + parent.string() + ": " +
                                             std::error_code(errno, std::generic_category()).message());
    }
    return std::nullopt;
}

std::optional<std::filesystem::perms> existing_permissions(const std::filesystem::path& path) {
    std::error_code ec;
    const auto st = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::is_regular_file(st)) return std::nullopt;
    return st.permissions() & std::filesystem::perms::all;
}

void restore_permissions(const std::filesystem::path& path, std::optional<std::filesystem::perms> perms) {
    if (!perms) return;
    std::error_code ignored;  // the verified content is in place either way
    std::filesystem::permissions(path, *perms, std::filesystem::perm_options::replace, ignored);
}

int fail(const Args* args, const InputError& e) {
    return fail(args, e.exit, e.code, e.message);
}

}  // namespace cyxp2p::tools
