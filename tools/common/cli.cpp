#include "cli.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace cyxp2p::tools {
namespace {
std::string g_program = "cyxp2p";
}

void set_program_name(std::string_view name) {
    g_program = std::string(name);
}
std::string_view program_name() {
    return g_program;
}

std::optional<Args> Args::parse(const std::vector<std::string>& argv, std::size_t first,
                                std::initializer_list<OptionSpec> spec, std::string& error) {
    Args out;
    auto find = [&](std::string_view name) -> const OptionSpec* {
        if (name == "--json" || name == "--help") {
            static constexpr OptionSpec flag{"", false};
            return &flag;
        }
        for (const auto& s : spec) {
            if (s.name == name) return &s;
        }
        return nullptr;
    };
    bool only_positionals = false;
    for (std::size_t i = first; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (only_positionals || a == "-" || a.size() < 2 || a[0] != '-') {
            out.positionals_.push_back(a);
            continue;
        }
        if (a == "--") {
            only_positionals = true;
            continue;
        }
        if (a == "-h") {
            out.options_["--help"] = "";
            continue;
        }
        std::string name = a;
        std::optional<std::string> inline_value;
        if (auto eq = a.find('='); eq != std::string::npos) {
            name = a.substr(0, eq);
            inline_value = a.substr(eq + 1);
        }
        const OptionSpec* s = find(name);
        if (s == nullptr) {
            error = "unknown option '" + name + "'";
            return std::nullopt;
        }
        if (!s->takes_value) {
            if (inline_value) {
                error = "option '" + name + "' takes no value";
                return std::nullopt;
            }
            out.options_[name] = "";
            continue;
        }
        if (inline_value) {
            out.options_[name] = *inline_value;
        } else if (i + 1 < argv.size()) {
            out.options_[name] = argv[++i];
        } else {
            error = "option '" + name + "' needs a value";
            return std::nullopt;
        }
    }
    return out;
}

std::optional<std::string> Args::get(std::string_view name) const {
    auto it = options_.find(name);
    if (it == options_.end()) return std::nullopt;
    return it->second;
}

int fail(const Args* args, Exit exit, std::string_view code, std::string_view message) {
    if (args != nullptr && args->json()) {
        print_json({{"ok", false},
                    {"error", std::string(code)},
                    {"message", std::string(message)},
                    {"exit_code", static_cast<int>(exit)}});
    } else {
        std::cerr << g_program << ": " << message << " [" << code << "]\n";
    }
    return static_cast<int>(exit);
}

void print_json(nlohmann::json j) {
    if (j.is_object() && !j.contains("ok")) j["ok"] = true;
    // Messages quote user input (a pin entry, a path), which may be any bytes: never throw over them.
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

std::optional<std::string> read_input(const std::string& path, std::error_code& ec) {
    std::ostringstream buf;
    if (path == "-") {
        buf << std::cin.rdbuf();
        return buf.str();
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        ec = std::make_error_code(std::errc::no_such_file_or_directory);
        return std::nullopt;
    }
    buf << in.rdbuf();
    if (in.bad()) {
        ec = std::make_error_code(std::errc::io_error);
        return std::nullopt;
    }
    return buf.str();
}

}  // namespace cyxp2p::tools
