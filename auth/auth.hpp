// Umbrella header of the auth module: everything cyxp2p::auth offers (JWS/JWT verification and minting,
// JWK/JWKS keyrings, claims, scopes and roles).
#pragma once

#include <cyxp2p/auth/claims.hpp>
#include <cyxp2p/auth/errc.hpp>
#include <cyxp2p/auth/jwk.hpp>
#include <cyxp2p/auth/jwt.hpp>
#include <cyxp2p/auth/key_source.hpp>
#include <cyxp2p/auth/keyring.hpp>
#include <cyxp2p/auth/limits.hpp>
#include <cyxp2p/auth/scope.hpp>
