// p2p-probe pin CERT.pem|-   : the SPKI pin of a certificate, exactly as curl --pinnedpubkey wants it.
// p2p-probe pin --check PINS CERT.pem : exit 0 when the certificate's key is in the pin list, 12 otherwise.
#include <iostream>

#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/pin_set.hpp>

#include "../common/cli.hpp"
#include "../common/local_checks.hpp"
#include "commands.hpp"

namespace cyxp2p::tools::probe {
namespace {

constexpr const char* kUsage =
    "usage: p2p-probe pin CERT.pem|- [--check PINS] [--json]\n"
    "\n"
    "Prints the certificate's SPKI pin, sha256//<base64 of SHA-256(DER SubjectPublicKeyInfo)>, the form\n"
    "curl --pinnedpubkey and p2p-probe connect --pin take. CERT.pem - reads standard input.\n"
    "  --check PINS   also say whether the pin is in PINS (sha256//A;sha256//B, spaces around ';'\n"
    "                 allowed): exit 0 if it is, 12 (pin_mismatch) if not [default: no check]\n"
    "  --json         print the pin (and matched, with --check) as JSON\n";

}  // namespace

int cmd_pin(const std::vector<std::string>& argv, std::size_t first) {
    std::string error;
    auto args = Args::parse(argv, first, {{"--check", true}}, error);
    if (!args) return fail(nullptr, Exit::usage, "usage", error + "\n" + kUsage);
    if (args->help()) {
        std::cout << kUsage;
        return 0;
    }
    if (args->positionals().size() != 1) return fail(&*args, Exit::usage, "usage", kUsage);
    const std::string& path = args->positionals()[0];

    std::error_code ec;
    auto pem = read_input(path, ec);
    if (!pem) return fail(&*args, Exit::io, "io_error", "cannot read " + path + ": " + ec.message());
    auto pin = pinning::Pin::of_certificate_pem(*pem, ec);
    if (!pin) {
        return fail(&*args, Exit::bad_input, pinning::to_string(static_cast<pinning::errc>(ec.value())),
                    path + ": " + ec.message());
    }

    std::optional<pinning::PinSet> expected;
    if (auto list = args->get("--check")) {
        InputError perr;
        expected = parse_pin_list("--check", *list, perr);
        if (!expected) return fail(&*args, perr);
    }
    const bool matched = expected && expected->matches(*pin, pinning::PinSet::Clock::now());
    if (args->json()) {
        nlohmann::json j{{"pin", pin->to_string()}};
        if (expected) j["matched"] = matched;
        if (expected && !matched) j["ok"] = false;
        print_json(j);
    } else {
        std::cout << pin->to_string() << '\n';
        if (expected && !matched) {
            std::cerr << "p2p-probe: pin mismatch: certificate key is " << pin->to_string()
                      << "; expected one of " << expected->to_string() << '\n';
        }
    }
    return expected && !matched ? static_cast<int>(Exit::pin_mismatch) : 0;
}

}  // namespace cyxp2p::tools::probe
