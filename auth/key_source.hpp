// Where a verifier gets its keys: a KeySource hands out the current Keyring, read again for every token
// (HELLO and REAUTH), so an operator can rotate keys while sessions run. A swap is atomic: a verification
// sees the old set or the new one, never a mix, and never an empty set (a failed reload keeps the last good
// set in force: fail closed on the new material, not on the running node).
//
//   auto keys = std::make_shared<auth::KeySet>(std::make_shared<const auth::Keyring>(ring));
//   node_options.key_source = keys;
//   ...
//   keys->replace(std::make_shared<const auth::Keyring>(rotated));  // the next REAUTH uses `rotated`
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>

#include <cyxp2p/auth/keyring.hpp>
#include <cyxp2p/auth/limits.hpp>

namespace cyxp2p::auth {

/// What an operator needs to know about a key source (for /metrics and logs). Times are wall-clock
/// seconds since the epoch (calendar facts an operator compares with the issuer's logs); 0: never.
struct KeySourceStatus {
    std::int64_t loaded_at_s = 0;        // when the set in force was loaded
    std::int64_t last_attempt_at_s = 0;  // the last load or fetch, successful or not
    std::error_code last_error{};        // of the last attempt; empty when it succeeded
    std::string last_error_detail{};     // what was wrong, for a person (never key material)
    std::uint64_t loads_ok = 0;          // sets put in force, the first one included
    std::uint64_t loads_failed = 0;      // attempts refused; the previous set stayed in force
    std::size_t keys = 0;                // keys in the set in force
};

class KeySource {
  public:
    virtual ~KeySource() = default;
    /// The set in force: never null, never empty. Thread-safe.
    virtual std::shared_ptr<const Keyring> current() const = 0;
    /// A token named `kid` and current() has no such key. A source that can fetch may refetch; it must not
    /// block (the caller is an I/O thread), so the token at hand is refused and a retry sees the result.
    virtual void unknown_kid(std::string_view kid) const { (void)kid; }
    virtual KeySourceStatus status() const = 0;
};

/// A set replaced as a whole (the in-memory source, and the base of the file and URL sources).
class KeySet : public KeySource {
  public:
    /// Throws std::invalid_argument for a null or empty keyring.
    explicit KeySet(std::shared_ptr<const Keyring> keys);

    std::shared_ptr<const Keyring> current() const override;
    KeySourceStatus status() const override;

    /// Puts `keys` in force; sessions verify their next token with it. A null or empty set is refused
    /// (errc::unsupported_key, as Keyring::from_jwks says of a set with no usable key) and the current
    /// one stays.
    std::error_code replace(std::shared_ptr<const Keyring> keys);

    /// Wall-clock seconds for status() (injectable for tests); default std::chrono::system_clock.
    using WallClock = std::function<std::int64_t()>;
    void set_wall_clock(WallClock clock);

  protected:
    std::int64_t wall_now() const;
    /// Records an attempt that failed: the set in force stays, status() says why.
    void record_failure(std::error_code ec, std::string detail);

  private:
    mutable std::mutex mutex_;
    std::shared_ptr<const Keyring> keys_;
    KeySourceStatus status_;
    WallClock wall_clock_;
};

/// A JWKS file, reloaded on request (p2p-node reloads it on SIGHUP). The same checks as Keyring::load:
/// secret material only from a 0600 file, strict JSON, Limits::max_jwks_bytes.
class FileKeySource final : public KeySet {
  public:
    /// Loads `path`; nullptr with `ec` (and `detail`) when it is unreadable or holds no usable key.
    static std::shared_ptr<FileKeySource> open(std::filesystem::path path, std::error_code& ec,
                                               std::string* detail = nullptr, const Limits& limits = {});

    /// Reads the file again. On error the set in force stays and the error is returned (and kept in
    /// status()); on success the new set replaces it.
    std::error_code reload(std::string* detail = nullptr);
    const std::filesystem::path& path() const { return path_; }

    FileKeySource(std::filesystem::path path, std::shared_ptr<const Keyring> keys, const Limits& limits);

  private:
    std::filesystem::path path_;
    Limits limits_;
};

}  // namespace cyxp2p::auth
