#include "version.hpp"

#include <boost/version.hpp>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#ifndef CYXP2P_VERSION
#define CYXP2P_VERSION "unknown"
#endif
#ifndef CYXP2P_GIT_COMMIT
#define CYXP2P_GIT_COMMIT "unknown"
#endif

namespace cyxp2p::tools {
namespace {

// Prometheus text format 0.0.4: label values escape backslash, double quote and newline.
std::string label(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

}  // namespace

BuildInfo build_info() {
    std::string boost = BOOST_LIB_VERSION;
    for (auto& c : boost) {
        if (c == '_') c = '.';
    }
    return {CYXP2P_VERSION, CYXP2P_GIT_COMMIT, OpenSSL_version(OPENSSL_VERSION), OPENSSL_VERSION_TEXT, boost};
}

std::string version_text(std::string_view tool) {
    const auto b = build_info();
    std::string out = std::string(tool) + " " + b.version + " (commit " + b.commit + ")\n";
    out += "OpenSSL " + b.openssl_runtime;
    if (b.openssl_runtime != b.openssl_build) out += " (built with " + b.openssl_build + ")";
    out += "\nBoost " + b.boost + "\n";
    return out;
}

std::string build_info_metric() {
    const auto b = build_info();
    return "# HELP cyxp2p_build_info The version and commit this node was built from, and its libraries.\n"
           "# TYPE cyxp2p_build_info gauge\n"
           "cyxp2p_build_info{version=\"" +
           label(b.version) + "\",commit=\"" + label(b.commit) + "\",openssl=\"" + label(b.openssl_runtime) +
           "\",boost=\"" + label(b.boost) + "\"} 1\n";
}

}  // namespace cyxp2p::tools
