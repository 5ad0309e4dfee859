// Umbrella header of the ratelimit module: everything cyxp2p::ratelimit offers (token buckets, keyed limiters
// and the connection limiter).
#pragma once

#include <cyxp2p/ratelimit/adaptive_deadline.hpp>
#include <cyxp2p/ratelimit/address.hpp>
#include <cyxp2p/ratelimit/connection_limiter.hpp>
#include <cyxp2p/ratelimit/errc.hpp>
#include <cyxp2p/ratelimit/keyed_limiter.hpp>
#include <cyxp2p/ratelimit/limits.hpp>
#include <cyxp2p/ratelimit/token_bucket.hpp>
