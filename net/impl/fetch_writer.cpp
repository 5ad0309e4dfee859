#include <utility>

#include <cyxp2p/net/impl/fetch_writer.hpp>

namespace cyxp2p::net::detail {

std::function<void(const FetchWriter&)> fetch_writer_test_hook;

FetchWriter::FetchWriter() : state_(std::make_shared<State>()) {
    std::function<void()> before_job;
    if (auto hook = fetch_writer_test_hook) before_job = [this, hook] { hook(*this); };
    thread_ = std::thread([state = state_, before_job = std::move(before_job)] { run(state, before_job); });
}

FetchWriter::~FetchWriter() {
    {
        std::lock_guard lock(state_->mutex);
        state_->stop = true;
    }
    state_->wake.notify_one();
    if (thread_.get_id() == std::this_thread::get_id()) {
        thread_.detach();  // the loop holds its own reference to the state and ends after this job
    } else {
        thread_.join();
    }
}

void FetchWriter::post(std::function<void()> job, std::size_t bytes) {
    {
        std::lock_guard lock(state_->mutex);
        state_->jobs.push_back({std::move(job), bytes});
        state_->queued_bytes += bytes;
    }
    state_->wake.notify_one();
}

std::size_t FetchWriter::queued_bytes() const {
    std::lock_guard lock(state_->mutex);
    return state_->queued_bytes;
}

void FetchWriter::run(const std::shared_ptr<State>& state, const std::function<void()>& before_job) {
    std::unique_lock lock(state->mutex);
    for (;;) {
        state->wake.wait(lock, [&] { return state->stop || !state->jobs.empty(); });
        if (state->jobs.empty()) return;  // stopped, and everything queued has run
        Job job = std::move(state->jobs.front());
        state->jobs.pop_front();
        lock.unlock();
        if (before_job) before_job();
        job.run();
        job.run = nullptr;  // whatever the job held goes now, outside the lock
        lock.lock();
        state->queued_bytes -= job.bytes;
    }
}

}  // namespace cyxp2p::net::detail
