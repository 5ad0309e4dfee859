// Everything the tools can check before they open a connection: the token's syntax, the pin list, the
// output path. A mistake found here costs no TCP, TLS or download, and each check says what to fix.
//
// Secrets: a token is never put into a message, not even a piece of it. A --token value that looks like a
// JWT (the token pasted where a file name goes) is recognised and refused without being echoed.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <cyxp2p/pinning/pin_set.hpp>

#include "cli.hpp"

namespace cyxp2p::tools {

/// Limits of the local checks, documented here once.
struct InputLimits {
    /// A token larger than this is refused before it is parsed. A P2P token with every optional claim is
    /// under 2 KiB; 16 KiB is also what common HTTP servers allow for a whole header line.
    std::size_t max_token_bytes = 16 * 1024;
    /// A pin list longer than this is refused (about 300 pins; a node needs its current pin and a backup).
    std::size_t max_pin_list_bytes = 16 * 1024;
    /// --timeout-ms of connect, ping, fetch and bench: an hour. Any longer per-phase timeout is a typo.
    std::uint64_t max_timeout_ms = 3'600'000;
};

/// Why a local check failed: the exit code, the code name printed with it and a message with advice.
struct InputError {
    Exit exit = Exit::usage;
    std::string code;
    std::string message;
};

/// Where a token argument may come from.
enum class TokenSource {
    file_or_stdin,    // --token FILE|-  (connect, ping, fetch, bench)
    inline_or_stdin,  // TOKEN|-         (token verify, token decode)
};

/// Reads (for a file or "-": at most max_token_bytes + 1 bytes), trims surrounding whitespace and checks
/// that `arg` names a compact JWS: three non-empty base64url segments. Errors: empty_token,
/// token_too_large, malformed (exit 4), token_not_a_file (exit 2: a JWT given where a file name
/// goes), io_error (exit 3). No message contains the token or any part of it.
std::optional<std::string> read_token(std::string_view option, const std::string& arg, TokenSource source,
                                      InputError& error, const InputLimits& limits = {});

/// True when `s` has the shape of a compact JWS (three base64url segments, the first starting "eyJ" as
/// every JSON header does), so it must be treated as a secret and never printed.
bool looks_like_jwt(std::string_view s);

/// Checks a trimmed token: empty, too large, or not three base64url segments. `where` names its source
/// in the message ("the token file tok.txt", "standard input").
std::optional<InputError> check_token_syntax(std::string_view token, const std::string& where,
                                             const InputLimits& limits = {});

/// Parses a pin list as given on a command line: entries separated by ';' with optional spaces around
/// them (shells and config files add them). Errors say which entry is wrong and what a pin looks like.
std::optional<pinning::PinSet> parse_pin_list(std::string_view option, std::string_view list,
                                              InputError& error, const InputLimits& limits = {});

/// Parses a per-phase timeout, whole milliseconds 1..max_timeout_ms. Error: usage (exit 2), naming the
/// range and the value given.
std::optional<std::chrono::milliseconds> parse_timeout_ms(std::string_view option, const std::string& value,
                                                          InputError& error, const InputLimits& limits = {});

/// Checks that `path` can become a new file before anything is fetched or extracted: not a directory,
/// its parent exists and is a writable directory, and it does not exist yet unless `force`. Exit 3.
std::optional<InputError> check_output_path(const std::filesystem::path& path, bool force);

/// The permissions of an existing regular file at `path`: a file replaced with --force keeps them (as cp
/// does), while a new file stays private (0600, as it was written).
std::optional<std::filesystem::perms> existing_permissions(const std::filesystem::path& path);
void restore_permissions(const std::filesystem::path& path, std::optional<std::filesystem::perms> perms);

/// Prints `e` the way fail() does and returns its exit code.
int fail(const Args* args, const InputError& e);

}  // namespace cyxp2p::tools
