// Umbrella header of the protocol module: everything cyxp2p::protocol offers (frames, messages, bodies, the
// sans-IO NodeSession and EngineSession, the content.fetch bodies).
#pragma once

#include <cyxp2p/protocol/admission.hpp>
#include <cyxp2p/protocol/body.hpp>
#include <cyxp2p/protocol/body_builder.hpp>
#include <cyxp2p/protocol/engine_session.hpp>
#include <cyxp2p/protocol/errc.hpp>
#include <cyxp2p/protocol/event.hpp>
#include <cyxp2p/protocol/frame.hpp>
#include <cyxp2p/protocol/limits.hpp>
#include <cyxp2p/protocol/message.hpp>
#include <cyxp2p/protocol/node_session.hpp>
#include <cyxp2p/protocol/rtt.hpp>
#include <cyxp2p/protocol/status.hpp>
#include <cyxp2p/protocol/window_budget.hpp>
