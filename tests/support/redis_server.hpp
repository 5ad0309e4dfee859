// A real redis-server (Debian's package) for the fleet tests: its own process on a unix socket in a fresh
// temporary directory, no TCP port, no persistence; killed, paused (SIGSTOP: a server that stops
// answering) and restarted on the same socket by the test. Never a mock, never the system's instance.
#pragma once

#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

namespace cyxp2p::test {

class RedisServer {
  public:
    /// Extra redis-server arguments, e.g. {"--requirepass", "secret"}.
    explicit RedisServer(std::vector<std::string> extra = {}) : extra_(std::move(extra)) { start(); }
    ~RedisServer() {
        if (proc_) {
            if (paused_) proc_->signal(SIGCONT);
            proc_->stop(SIGTERM, std::chrono::seconds(10));
        }
    }
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    /// Starts (or restarts) the server on the same socket and waits until it answers PING.
    void start() {
        std::vector<std::string> argv{"redis-server",
                                      "--port",
                                      "0",
                                      "--unixsocket",
                                      socket(),
                                      "--unixsocketperm",
                                      "700",
                                      "--save",
                                      "",
                                      "--appendonly",
                                      "no",
                                      "--dir",
                                      dir_.path().string()};
        argv.insert(argv.end(), extra_.begin(), extra_.end());
        proc_ = std::make_unique<BackgroundProcess>(argv);
        paused_ = false;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        // Answered at all (PONG, or NOAUTH with --requirepass); redis-cli prints nothing on stdout while
        // the socket is not there yet.
        while (cli({"PING"}).empty()) {
            if (std::chrono::steady_clock::now() > deadline)
                throw std::runtime_error("redis-server did not start: " + proc_->output());
            std::this_thread::sleep_for(std::chrono::milliseconds(20));  // waiting for a child, not for time
        }
    }
    /// SIGKILL: Redis is gone at once, as after a crash (its data with it: no persistence).
    void kill() {
        if (paused_) proc_->signal(SIGCONT);
        proc_->stop(SIGKILL);
        proc_.reset();
    }
    /// SIGSTOP / SIGCONT: the socket stays open and accepts, nothing answers (a server stuck in a long
    /// command or swapping).
    void pause() {
        proc_->signal(SIGSTOP);
        paused_ = true;
    }
    void resume() {
        proc_->signal(SIGCONT);
        paused_ = false;
    }

    std::string socket() const { return (dir_ / "r.sock").string(); }
    std::string url() const { return "unix://" + socket(); }
    /// redis-cli against this server; its stdout.
    std::string cli(std::vector<std::string> args) const {
        std::vector<std::string> argv{"redis-cli", "-s", socket()};
        argv.insert(argv.end(), args.begin(), args.end());
        return run(argv, {}, std::chrono::seconds(10)).out;
    }

  private:
    TempDir dir_;
    std::vector<std::string> extra_;
    std::unique_ptr<BackgroundProcess> proc_;
    bool paused_ = false;
};

/// Polls `cond` every 5 ms until it holds or `within` passed (waiting for a Redis client's own thread, not
/// for protocol time).
inline bool eventually(const std::function<bool()>& cond,
                       std::chrono::milliseconds within = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (!cond()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

}  // namespace cyxp2p::test
