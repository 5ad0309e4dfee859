// p2p-probe subcommands. Each group lives in its own cmd_*.cpp and parses its own options.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cyxp2p::tools::probe {

/// argv is the whole command line; the group's own arguments start at argv[first].
using CommandFn = int (*)(const std::vector<std::string>& argv, std::size_t first);

struct Command {
    std::string_view name;
    std::string_view summary;
    CommandFn run;
};

int cmd_pin(const std::vector<std::string>& argv, std::size_t first);
int cmd_key(const std::vector<std::string>& argv, std::size_t first);    // auth: key new
int cmd_token(const std::vector<std::string>& argv, std::size_t first);  // auth: token mint|verify|decode
int cmd_cid(const std::vector<std::string>& argv, std::size_t first);    // content: CID of a file
int cmd_car(const std::vector<std::string>& argv, std::size_t first);    // content: car export|verify|extract
int cmd_connect(const std::vector<std::string>& argv, std::size_t first);  // net: connect report
int cmd_ping(const std::vector<std::string>& argv, std::size_t first);     // net: PING round trips
int cmd_fetch(const std::vector<std::string>& argv, std::size_t first);    // net: verified download
int cmd_bench(const std::vector<std::string>& argv, std::size_t first);    // bench: throughput, handshakes/s

}  // namespace cyxp2p::tools::probe
