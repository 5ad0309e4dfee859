// Shared command-line plumbing for p2p-probe and p2p-node: option parsing, exit codes, --json output.
#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

namespace cyxp2p::tools {

/// Exit codes, one per failure class; docs/tools.md documents them. Never renumber.
enum class Exit : int {
    ok = 0,
    failure = 1,            // internal or unclassified error
    usage = 2,              // bad command line
    io = 3,                 // a file could not be read or written
    bad_input = 4,          // malformed PEM, pin list, JWK, token syntax, CID, CAR ...
    connect_failed = 10,    // TCP connect failed or timed out
    tls_failed = 11,        // TLS handshake failed for another reason than the pin
    pin_mismatch = 12,      // the peer's key is not in the pin set
    token_rejected = 13,    // the token failed verification (reason in the message)
    rate_limited = 14,      // the peer refused us for a limit
    content_mismatch = 15,  // bytes did not hash to the CID that named them
    protocol_error = 16,    // the peer broke the wire protocol
    keys_unavailable = 17,  // p2p-node run --keys URL: the first fetch of the JWKS failed
};

/// One option a command accepts. `takes_value` options are written `--name VALUE` or `--name=VALUE`.
struct OptionSpec {
    std::string_view name;
    bool takes_value;
};

/// Parsed arguments of one (sub)command. Unknown options are a usage error, reported by parse().
class Args {
  public:
    /// Parses argv[first..]. `--json` and `--help` are always accepted.
    static std::optional<Args> parse(const std::vector<std::string>& argv, std::size_t first,
                                     std::initializer_list<OptionSpec> spec, std::string& error);

    bool has(std::string_view name) const { return options_.count(std::string(name)) != 0; }
    std::optional<std::string> get(std::string_view name) const;
    const std::vector<std::string>& positionals() const { return positionals_; }
    bool json() const { return has("--json"); }
    bool help() const { return has("--help"); }

  private:
    std::map<std::string, std::string, std::less<>> options_;
    std::vector<std::string> positionals_;
};

/// Prints a failure in text ("p2p-probe: what: detail") on stderr, or as JSON on stdout
/// ({"ok":false,"error":code,"message":...}), and returns the exit code to use.
int fail(const Args* args, Exit exit, std::string_view code, std::string_view message);

/// Prints a success object as JSON (adding "ok": true) on stdout.
void print_json(nlohmann::json j);

/// Reads a whole file, or standard input for "-". Returns nullopt and sets ec on failure.
std::optional<std::string> read_input(const std::string& path, std::error_code& ec);

/// The name the tool was invoked as, for messages ("p2p-probe").
void set_program_name(std::string_view name);
std::string_view program_name();

}  // namespace cyxp2p::tools
