// Umbrella header of the net module: everything cyxp2p::net offers (the Asio shell: Node, Engine, TLS
// diagnostics, audit, metrics, the operator HTTP endpoint, fleet mode's admission and Redis client).
#pragma once

#include <cyxp2p/net/admission.hpp>
#include <cyxp2p/net/audit.hpp>
#include <cyxp2p/net/clock.hpp>
#include <cyxp2p/net/engine.hpp>
#include <cyxp2p/net/errc.hpp>
#include <cyxp2p/net/fetch_sources.hpp>
#include <cyxp2p/net/gateway.hpp>
#include <cyxp2p/net/http_endpoint.hpp>
#include <cyxp2p/net/jwks_url_source.hpp>
#include <cyxp2p/net/limits.hpp>
#include <cyxp2p/net/metrics.hpp>
#include <cyxp2p/net/multi_fetch.hpp>
#include <cyxp2p/net/node.hpp>
#include <cyxp2p/net/redis.hpp>
#include <cyxp2p/net/tls_info.hpp>
#include <cyxp2p/net/window_budget.hpp>
