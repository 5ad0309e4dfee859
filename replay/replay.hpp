// Umbrella header of the replay module: everything cyxp2p::replay offers (the nonce + timestamp window and
// the RFC 6479 sequence window).
#pragma once

#include <cyxp2p/replay/errc.hpp>
#include <cyxp2p/replay/limits.hpp>
#include <cyxp2p/replay/nonce_window.hpp>
#include <cyxp2p/replay/sequence_window.hpp>
