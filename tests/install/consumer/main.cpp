#include <cyxp2p/pinning/identity.hpp>
#include <cyxp2p/pinning/tls_policy.hpp>

#include <iostream>

int main() {
    std::error_code ec;
    auto id = cyxp2p::pinning::Identity::generate({.node_id = "consumer"}, ec);
    if (!id || !cyxp2p::pinning::make_node_context(*id, ec)) return 1;
    std::cout << id->pin().to_string() << '\n';
    return 0;
}
