// An engine for the CyxWiz job flow: connect to a pinned node with a token, submit a job, follow its
// training stream (pausing and resuming it, cancelling it at step 10), fetch the model file by CID and
// check it, close. Prints a transcript, one line per event (tests/install checks it).
//   example-engine DIR    reads DIR/port, DIR/pin, DIR/token, DIR/cid, DIR/model.bin written by example-node.
//
// Written as one C++20 coroutine: each step reads in the order it happens. The library's operations take
// any Asio completion token; with Boost 1.74, use_awaitable turns only boost::system::error_code into an
// exception, so operations completing with (std::error_code, T) give back std::tuple<std::error_code, T>
// (structured bindings below) and errors stay values, tested where they occur.
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <utility>  // before Boost: Boost 1.74's asio/awaitable.hpp needs std::exchange, g++ 12 no longer pulls it in
#include <variant>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/body_builder.hpp>

using namespace cyxp2p;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using asio::use_awaitable;

static std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

static int fail(const char* what, std::error_code ec, const std::string& detail = {}) {
    std::cout << what << ": " << ec.message() << (detail.empty() ? "" : " (" + detail + ")") << std::endl;
    return 1;
}

// Sends one job command on the training stream (in-band: no job_id needed, the stream is the job).
static asio::awaitable<std::error_code> send(net::ClientStream& s, protocol::Command c) {
    auto message = protocol::encode(protocol::JobCommand{.command = c});
    auto ec = co_await s.async_send(std::move(message), use_awaitable);
    std::cout << protocol::to_string(c) << ": sent" << std::endl;
    co_return ec;
}

static asio::awaitable<int> run(net::Engine& engine, std::string dir) {
    // Arguments are built before each co_await and moved in: g++ 12 miscompiles some class temporaries
    // built inside a co_await expression (this ConnectOptions inline was freed twice).
    net::ConnectOptions node{.host = "127.0.0.1",
                             .port = static_cast<std::uint16_t>(std::stoi(slurp(dir + "/port"))),
                             .pins = pinning::PinSet::parse(slurp(dir + "/pin")),
                             .token = slurp(dir + "/token")};
    auto [ec, c] = co_await engine.async_connect(std::move(node), use_awaitable);
    if (ec) co_return fail("connect", ec);

    // 1. Submit: the config is an opaque msgpack map for the node's training code.
    auto config = protocol::MapBuilder().add("model", "resnet-tiny").add("epochs", 1).add("lr", 0.01).build();
    auto job = protocol::encode(protocol::JobSubmit{"job-1", config});
    auto [sec, reply] = co_await c->async_call("job.submit", std::move(job), use_awaitable);
    if (sec) co_return fail("submit", sec, reply.status.message);  // refused, or the node's handler failed
    auto outcome = protocol::decode_outcome(reply.body, ec);
    if (!outcome) co_return fail("submit reply", ec);
    std::cout << "submit: " << (outcome->ok ? "ok, " : "declined, " + outcome->error + ": ")
              << outcome->message << std::endl;
    if (!outcome->ok) co_return 1;

    // 2. Train: completes once the node accepted the stream; its messages wait for async_read.
    auto [oec, s] = co_await c->async_open_stream("train.stream", use_awaitable);
    if (oec) co_return fail("train.stream", oec, s ? s->status().message : "");
    std::cout << "train.stream: open" << std::endl;
    bool pause_sent = false, cancel_sent = false;
    for (;;) {
        auto [rec, m] = co_await s->async_read(use_awaitable);
        if (rec == net::errc::end_of_stream) break;  // the node finished; every message read
        if (rec) co_return fail("train.stream", rec, s->status().message);
        protocol::Status why;
        auto message = protocol::decode_job_message(m, why);
        if (!message) co_return fail("train.stream message", why.error(), why.message);
        auto* p = std::get_if<protocol::JobProgress>(&*message);
        if (!p) continue;  // logs, metrics, kinds from a newer node: not this example's business
        std::cout << "progress " << p->step << '/' << p->total_steps << ' ' << p->state << std::endl;
        std::error_code e;
        if (p->step == 3 && !pause_sent) {
            pause_sent = true;
            e = co_await send(*s, protocol::Command::pause);
        } else if (p->state == "paused") {  // it took effect: hold the job a moment, then let it go on
            asio::steady_timer gap(co_await asio::this_coro::executor, 200ms);
            co_await gap.async_wait(use_awaitable);
            e = co_await send(*s, protocol::Command::resume);
        } else if (p->step >= 10 && !cancel_sent) {
            cancel_sent = true;
            e = co_await send(*s, protocol::Command::cancel);
        }
        if (e) co_return fail("send", e);
    }
    auto [fec, status] = co_await s->async_finish(use_awaitable);  // our side ends too; closed both ways
    if (fec) co_return fail("train.stream end", fec, status.message);
    std::cout << "train.stream: closed ok" << std::endl;

    // 3. Fetch the model: every block is verified against the CID before it is written.
    auto cid = slurp(dir + "/cid");
    auto [xec, fetched] = co_await c->async_fetch(std::move(cid), dir + "/fetched.bin", {}, use_awaitable);
    if (xec) co_return fail("fetch", xec, fetched.error_detail);
    if (slurp(dir + "/fetched.bin") != slurp(dir + "/model.bin"))
        co_return fail("fetch", std::make_error_code(std::errc::io_error),
                       "fetched bytes differ from model.bin");
    std::cout << "fetch: verified " << fetched.bytes << " bytes" << std::endl;

    // 4. Close: streams still open would get 2 s to finish; none is, so none is cut.
    auto [cec, cut] = co_await c->async_close(2s, use_awaitable);
    if (cec) co_return fail("close", cec);
    std::cout << "close: ok, " << cut << " streams cut" << std::endl;
    co_return 0;
}

int main(int argc, char** argv) {
    if (argc != 2) return std::cerr << "usage: example-engine DIR\n", 2;
    asio::io_context io;
    net::Engine engine(io.get_executor());
    int rc = 1;
    asio::co_spawn(io, run(engine, argv[1]), [&](std::exception_ptr e, int r) {
        rc = e ? 1 : r;  // an exception: only the timer throws (boost::system::error_code)
    });
    io.run();  // returns when the coroutine has finished and the connection is gone
    return rc;
}
