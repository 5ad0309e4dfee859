// cyxp2p-wan-proxy as a user runs it: usage errors, forwarding through the executable, the counters it
// prints when stopped.
#include <signal.h>
#include <unistd.h>

#include <string>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <support.hpp>
#include <sys/socket.h>

namespace test = cyxp2p::test;

namespace {

std::string proxy() {
    return test::tool("cyxp2p-wan-proxy").string();
}

// A loopback listener on an ephemeral port (blocking POSIX sockets: the test needs nothing more).
int listen_loopback(std::uint16_t& port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd, 4), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    return fd;
}

int connect_loopback(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    return fd;
}

TEST(WanProxyCli, UsageErrorsExitTwo) {
    EXPECT_EQ(test::run({proxy()}).exit_code, 2);  // no --connect
    EXPECT_EQ(test::run({proxy(), "--connect", "127.0.0.1:1", "--delay-ms", "soon"}).exit_code, 2);
    EXPECT_EQ(test::run({proxy(), "--connect", "127.0.0.1:1", "--rate-mibps", "-5"}).exit_code, 2);
    EXPECT_EQ(test::run({proxy(), "--connect", "127.0.0.1:1", "--threads", "0"}).exit_code, 2);
    EXPECT_EQ(test::run({proxy(), "--connect", "127.0.0.1:1", "--bogus"}).exit_code, 2);
    auto help = test::run({proxy(), "--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("--delay-ms"), std::string::npos) << help.out;
}

TEST(WanProxyCli, ForwardsBothWaysAndReportsItsCountersOnSigterm) {
    std::uint16_t upstream = 0;
    const int listener = listen_loopback(upstream);
    test::BackgroundProcess p(
        {proxy(), "--connect", "127.0.0.1:" + std::to_string(upstream), "--delay-ms", "5", "--json"});
    const auto listening = p.wait_for_line("listening 127.0.0.1:");
    ASSERT_TRUE(listening && p.wait_for_line("ready")) << p.output();
    const int client = connect_loopback(static_cast<std::uint16_t>(std::stoi(*listening)));
    const int server = ::accept(listener, nullptr, nullptr);
    ASSERT_GE(server, 0);
    const std::string up(1000, 'u'), down(300, 'd');
    ASSERT_EQ(::write(client, up.data(), up.size()), static_cast<ssize_t>(up.size()));
    ASSERT_EQ(::write(server, down.data(), down.size()), static_cast<ssize_t>(down.size()));
    std::string got_up, got_down;
    char buf[2048];
    while (got_up.size() < up.size()) {
        const auto n = ::read(server, buf, sizeof buf);
        ASSERT_GT(n, 0);
        got_up.append(buf, static_cast<std::size_t>(n));
    }
    while (got_down.size() < down.size()) {
        const auto n = ::read(client, buf, sizeof buf);
        ASSERT_GT(n, 0);
        got_down.append(buf, static_cast<std::size_t>(n));
    }
    EXPECT_EQ(got_up, up);
    EXPECT_EQ(got_down, down);
    EXPECT_EQ(p.stop(SIGTERM), 0);
    ::close(client);
    ::close(server);
    ::close(listener);
    const auto out = p.output();
    const auto json = out.find('{');
    ASSERT_NE(json, std::string::npos) << out;
    auto j = nlohmann::json::parse(out.substr(json));
    EXPECT_EQ(j["connections"], 1);
    EXPECT_EQ(j["bytes_up"], up.size());
    EXPECT_EQ(j["bytes_down"], down.size());
}

}  // namespace
