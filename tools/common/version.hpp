// What a binary was built from, for --version and the cyxp2p_build_info metric: a bug report or a fleet
// dashboard needs the exact commit and the TLS library actually loaded, not just a version number.
#pragma once

#include <string>
#include <string_view>

namespace cyxp2p::tools {

struct BuildInfo {
    std::string version;          // the CMake project version
    std::string commit;           // git commit at configure time ("unknown" outside a checkout)
    std::string openssl_runtime;  // OpenSSL_version(): the library loaded now
    std::string openssl_build;    // OPENSSL_VERSION_TEXT: the headers built against
    std::string boost;            // BOOST_LIB_VERSION, e.g. "1_74"
};

BuildInfo build_info();

/// The --version text: "p2p-probe 0.1.0 (commit 1234abcd)" then one line per library.
std::string version_text(std::string_view tool);

/// `cyxp2p_build_info{version=...,commit=...,openssl=...,boost=...} 1` in the Prometheus text format,
/// the `*_build_info` convention (value 1, facts in labels).
std::string build_info_metric();

}  // namespace cyxp2p::tools
