// FetchWriter: the disk side of one fetch, on a thread of its own. The jobs a fetch queues (Download::open,
// which hashes a held prefix again; push, which hashes a block and writes it; commit and abort, which
// fsync) run there one at a time in the order queued, so the connection's strand only decodes messages and
// hands their buffers over (docs/net.md, "Receive path").
//
// The queue has no bound of its own: what a fetch queues is bounded by flow control, because each
// message's credit goes back to the node only when its job has run (EngineSession::defer_consumption), so
// at most the stream's receive window waits here.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace cyxp2p::net::detail {

class FetchWriter;

/// Tests only (tests/integration/fetch_writer_test.cpp: a disk that blocks): when set, runs on the writer
/// thread before every job, with the writer. Set it before the fetch starts and reset it after it ended.
extern std::function<void(const FetchWriter&)> fetch_writer_test_hook;

class FetchWriter {
  public:
    FetchWriter();
    /// Lets the jobs already queued run, then the thread ends. Safe on the writer thread itself (a job that
    /// held the last reference to the owner): the thread then finishes on its own.
    ~FetchWriter();
    FetchWriter(const FetchWriter&) = delete;
    FetchWriter& operator=(const FetchWriter&) = delete;

    /// Queues `job` behind every job queued before it. `bytes`: the size of the buffer it holds, counted
    /// in queued_bytes() until it has run.
    void post(std::function<void()> job, std::size_t bytes = 0);
    /// Bytes of jobs queued or running (any thread).
    std::size_t queued_bytes() const;

  private:
    struct Job {
        std::function<void()> run;
        std::size_t bytes;
    };
    struct State {
        mutable std::mutex mutex;
        std::condition_variable wake;
        std::deque<Job> jobs;
        std::size_t queued_bytes = 0;
        bool stop = false;
    };
    static void run(const std::shared_ptr<State>& state, const std::function<void()>& before_job);

    std::shared_ptr<State> state_;  // shared with the thread, which may outlive this object (see above)
    std::thread thread_;
};

}  // namespace cyxp2p::net::detail
