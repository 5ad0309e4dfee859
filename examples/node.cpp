// A node for the CyxWiz job flow: accepts jobs (job.submit, answered off the I/O thread), runs one training
// stream per job (train.stream: progress out, pause/resume/cancel in) and serves a model file by CID
// (content.fetch). Engines need a P2P token from the Central Server, played here by a key we generate.
//   example-node DIR    writes DIR/port, DIR/pin, DIR/token, DIR/cid and DIR/model.bin (for
//                       example-engine), serves until stdin closes, then stops cleanly.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <variant>

#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/content/blockstore.hpp>
#include <cyxp2p/content/importer.hpp>
#include <cyxp2p/net/node.hpp>
#include <cyxp2p/protocol/body.hpp>

using namespace cyxp2p;
using namespace std::chrono_literals;

// Decides on job.submit away from the I/O thread: a real node checks resources and queues the job, which
// must not block the connection's thread (every handler runs there). The handler hands the call over with
// its Responder and returns; this worker answers from its own thread.
class Scheduler {
  public:
    void enqueue(net::Request request, net::Responder answer) {
        {
            std::lock_guard lock(mutex_);
            queue_.emplace_back(std::move(request), std::move(answer));
        }
        wake_.notify_one();
    }

  private:
    void run(std::stop_token stop) {
        std::unique_lock lock(mutex_);
        while (wake_.wait(lock, stop, [&] { return !queue_.empty(); })) {
            auto [request, answer] = std::move(queue_.front());
            queue_.pop_front();
            std::error_code ec;
            auto job = protocol::decode_job_submit(request.body, ec);
            if (!job) {
                // Not a job.submit at all: fail the call with the decoder's code, for the engine's developer.
                answer.fail(protocol::errc::bad_message, "job.submit: " + ec.message());
            } else {
                answer.reply(protocol::encode(schedule(*job)));
            }
        }
    }
    // A well-formed job the node still declines is an Outcome (ok = false), not a stream error: the
    // engine shows it to its user. The config is a msgpack map, checked by the decoder against BodyLimits;
    // its keys are for the training code, which would read it with its own msgpack library.
    protocol::Outcome schedule(const protocol::JobSubmit& job) {
        if (job.config.size() <= 1)
            return {false, "bad_config", "job " + job.job_id + " has an empty config"};
        if (!jobs_.insert(job.job_id).second)
            return {false, "duplicate_job", job.job_id + " was already submitted"};
        return {true, "", "accepted " + job.job_id};
    }

    std::mutex mutex_;
    std::condition_variable_any wake_;
    std::deque<std::pair<net::Request, net::Responder>> queue_;
    std::set<std::string> jobs_;
    std::jthread worker_{[this](std::stop_token stop) { run(stop); }};  // last: stops before the rest goes
};

// One training run, owned by its stream (emplace_state). A worker thread "trains" and reports a step every
// 50 ms with ServerStream::send, which any thread may call. The engine's commands arrive on the
// connection's thread (on_message) and reach the worker through the mutex.
class Trainer {
  public:
    explicit Trainer(net::StreamPtr stream) : stream_(std::move(stream)) {}
    void command(protocol::Command c) {
        std::lock_guard lock(mutex_);
        if (c == protocol::Command::pause) paused_ = true;
        if (c == protocol::Command::resume) paused_ = false;
        if (c == protocol::Command::cancel) cancelled_ = true;
        wake_.notify_one();
    }
    // The node is stopping (on_going_away): save what we have and end the stream while it still works.
    void checkpoint() {
        std::lock_guard lock(mutex_);
        going_away_ = true;
        wake_.notify_one();
    }
    // The stream ended (on_close): nothing sent now leaves, so stop and join before the stream's state goes.
    void stop() {
        worker_.request_stop();
        worker_.join();
    }

  private:
    static constexpr std::uint64_t kSteps = 100;
    void report(std::uint64_t step, const char* state) {
        stream_->send(
            protocol::encode(protocol::JobProgress{.step = step, .total_steps = kSteps, .state = state}));
    }
    void run(std::stop_token stop) {
        std::uint64_t step = 0;
        bool reported_pause = false;
        std::unique_lock lock(mutex_);
        while (!stop.stop_requested()) {
            // Wakes after 50 ms (a step) or at once for a command.
            const bool woken = wake_.wait_for(
                lock, stop, 50ms, [&] { return cancelled_ || going_away_ || paused_ != reported_pause; });
            if (stop.stop_requested()) return;
            if (cancelled_ || going_away_) {
                report(step, cancelled_ ? "cancelled" : "checkpointed");
                stream_->finish();
                return;
            }
            if (paused_ != reported_pause) {
                if (paused_) report(step, "paused");  // the engine sees that it took effect, and where
                reported_pause = paused_;
            } else if (!woken && !paused_) {
                ++step;
                report(step, step == kSteps ? "finished" : "running");
                if (step == kSteps) return void(stream_->finish());
            }
        }
    }

    net::StreamPtr stream_;  // a cycle with the stream's state, broken when the state is released
    std::mutex mutex_;
    std::condition_variable_any wake_;
    bool paused_ = false, cancelled_ = false, going_away_ = false;
    std::jthread worker_{[this](std::stop_token stop) { run(stop); }};  // last: starts once the rest exists
};

// The model file the node serves: generated, imported into a Blockstore (blocks referencing the file, as a
// node with a 20 GB model would), its CID printed for the engine.
static std::optional<content::Blockstore> publish_model(const std::string& dir, std::error_code& ec) {
    const std::string model = dir + "/model.bin";
    {
        std::ofstream out(model, std::ios::binary);
        std::mt19937 bytes(16);
        for (int i = 0; i < 600 * 1024; ++i) out.put(static_cast<char>(bytes()));  // three 256 KiB leaves
    }
    auto store = content::Blockstore::open(dir + "/blocks", ec);
    if (!store) return std::nullopt;
    auto options = content::ImportOptions::kubo_default();  // the CID `ipfs add` would print
    options.threads = 1;
    auto imported = content::import_file(model, options, store->sink(model), ec);
    if (!imported) return std::nullopt;
    std::ofstream(dir + "/cid") << imported->root.to_string();
    return store;
}

int main(int argc, char** argv) {
    if (argc != 2) return std::cerr << "usage: example-node DIR\n", 2;
    const std::string dir = argv[1];
    std::error_code ec;
    auto identity = pinning::Identity::generate({.node_id = "example-node"}, ec);
    auto central = auth::Jwk::generate(auth::Algorithm::eddsa, "central");  // the Central Server's key
    auto keys = std::make_shared<auth::Keyring>();
    if (!identity || keys->add(central)) return std::cerr << "identity: " << ec.message() << '\n', 1;
    auto store = publish_model(dir, ec);
    if (!store) return std::cerr << "model: " << ec.message() << '\n', 1;

    net::Node node(
        {.identity = *identity, .keys = keys, .content = std::move(store)});  // serves content.fetch
    Scheduler scheduler;  // after the node: destroyed first, so no answer comes from it once the node is gone
    node.handle_unary("job.submit", "job:execute", [&](net::Request r, net::Responder answer) {
        scheduler.enqueue(std::move(r), answer);
    });

    // Not in auth's method table (auth::required_scope has no entry), so the node chooses the scope: the
    // one that lets a token submit the job also lets it run it.
    net::MethodHandlers train;
    train.on_open = [](const net::StreamPtr& s) { s->emplace_state<Trainer>(s); };
    train.on_message = [](const net::StreamPtr& s, std::vector<std::uint8_t> m) {
        protocol::Status why;
        auto message = protocol::decode_job_message(m, why);
        if (!message) return void(s->fail(why));  // names the bad field
        if (auto* c = std::get_if<protocol::JobCommand>(&*message))
            return s->state_if<Trainer>()->command(c->command);
        if (!std::holds_alternative<protocol::Unknown>(*message))  // Unknown: a newer engine's kind, skipped
            s->fail(protocol::errc::bad_message,
                    "train.stream takes job commands, not " + std::string(protocol::tag_of(*message)));
    };
    train.on_going_away = [](const net::StreamPtr& s) { s->state_if<Trainer>()->checkpoint(); };
    train.on_close = [](const net::StreamPtr& s, const net::StreamEnd& end) {
        if (auto* t = s->state_if<Trainer>()) t->stop();
        std::cout << "train.stream " << s->id() << " closed: " << net::to_string(end.reason) << std::endl;
    };
    node.handle("train.stream", "job:execute", std::move(train));
    if ((ec = node.start())) return std::cerr << "start: " << ec.message() << '\n', 1;

    // What the Central Server would hand the engine: the node's address, its pin, a token for it.
    auth::Claims c;
    c.subject = "example-user";
    c.node_id = node.node_id();
    c.session_id = "example-session";
    c.issued_at =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    c.expires_at = c.issued_at + 600;
    c.scope = {"job:execute", "content:read"};
    std::ofstream(dir + "/port") << node.local_port();
    std::ofstream(dir + "/pin") << identity->pin().to_string();
    std::ofstream(dir + "/token") << auth::mint(c, central, ec).value_or("");
    std::cout << "ready" << std::endl;
    std::string line;
    std::getline(std::cin, line);  // until stdin closes
    node.stop(2s);                 // open training streams checkpoint (on_going_away) and get 2 s to end
    std::cout << "stopped" << std::endl;
    return 0;
}
