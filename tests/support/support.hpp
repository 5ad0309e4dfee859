// Test support shared by every suite: running real programs (openssl, node, our tools) and temp dirs.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cyxp2p::test {

struct ProcessResult {
    int exit_code = -1;  // the program's exit status; 128+N when killed by signal N; -1 if it could not start
    std::string out;
    std::string err;
    bool timed_out = false;
};

/// Runs argv[0] (searched on PATH) with `input` on its stdin, capturing stdout and stderr.
/// Kills it after `timeout`. Never throws for the program's own failures.
ProcessResult run(const std::vector<std::string>& argv, std::string_view input = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

/// A program running in the background (a node under test). Its stdout and stderr go to a file; the
/// destructor kills it if it is still running.
class BackgroundProcess {
  public:
    explicit BackgroundProcess(const std::vector<std::string>& argv);
    ~BackgroundProcess();
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;

    /// Waits until a line starting with `prefix` appears in the output; returns the rest of that line, or
    /// nullopt if the process exited or `timeout` passed first.
    std::optional<std::string> wait_for_line(std::string_view prefix,
                                             std::chrono::milliseconds timeout = std::chrono::seconds(30));
    /// Sends `signal` and waits for the exit (SIGKILL after `timeout`); returns the exit status.
    int stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(30));
    /// Sends `signal` without waiting (a second SIGTERM, SIGSTOP to stall a peer); no-op once it exited.
    void signal(int signal);
    std::string output() const;

  private:
    int pid_ = -1;
    std::filesystem::path log_;
    int status_ = -1;
};

/// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

  private:
    std::filesystem::path path_;
};

std::filesystem::path source_dir();  // the repository root
std::filesystem::path binary_dir();  // the build directory
/// A built tool, e.g. tool("p2p-probe").
std::filesystem::path tool(std::string_view name);
/// tests/interop, where `scripts/setup --npm` installs node_modules; fails the test if they are missing.
std::filesystem::path interop_dir();

void write_file(const std::filesystem::path& p, std::string_view bytes);
std::string read_file(const std::filesystem::path& p);

}  // namespace cyxp2p::test
