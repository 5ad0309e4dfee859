// Umbrella header of the pinning module: everything cyxp2p::pinning offers (node identity, SPKI pins and pin
// sets, the TLS 1.3 policy).
#pragma once

#include <cyxp2p/pinning/errc.hpp>
#include <cyxp2p/pinning/identity.hpp>
#include <cyxp2p/pinning/pin.hpp>
#include <cyxp2p/pinning/pin_set.hpp>
#include <cyxp2p/pinning/tls_policy.hpp>
