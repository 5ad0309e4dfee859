// Mints CyxWiz P2P tokens with `jose` (npm) for tests/interop/auth_jose_test.cpp.
// usage: node auth_jose_mint.mjs HS256|EdDSA NOW NODE_ID
// prints {"jwks": {...}, "bare_jwk": {...}, "cases": [{"name", "token", "expect", "keys"}]}
// where expect is "ok" or the cyxp2p::auth error code name the verifier must return.
import * as jose from 'jose';

const [alg, nowArg, node] = process.argv.slice(2);
const now = Number(nowArg);
if (!['HS256', 'EdDSA'].includes(alg) || !Number.isInteger(now) || !node) {
  console.error('usage: node auth_jose_mint.mjs HS256|EdDSA NOW NODE_ID');
  process.exit(2);
}

let signKey;
let exported;
if (alg === 'HS256') {
  signKey = await jose.generateSecret('HS256', { extractable: true });
  exported = await jose.exportJWK(signKey);
} else {
  const pair = await jose.generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  signKey = pair.privateKey;
  exported = await jose.exportJWK(pair.publicKey);
}
const kid = 'jose-1';
// The JWKS the verifier gets: jose's own export plus kid/alg/use, and the bare export as jose writes it.
const jwks = { keys: [{ ...exported, kid, alg, use: 'sig' }] };

function base() {
  return {
    iss: 'cyxwiz-central-server', sub: 'user-jose', iat: now - 60, exp: now - 60 + 3600,
    node_id: node, session_id: 'sess-jose', scope: ['job:execute', 'metrics:read'], token_type: 'p2p',
  };
}

async function mint(changes = {}, header = {}, signOptions = undefined, key = signKey) {
  const payload = { ...base(), ...changes };
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  const h = { alg, kid, typ: 'JWT', ...header };
  for (const k of Object.keys(h)) if (h[k] === undefined) delete h[k];
  return new jose.SignJWT(payload).setProtectedHeader(h).sign(key, signOptions);
}

const cases = [];
const add = (name, token, expect, keys = 'jwks') => cases.push({ name, token, expect, keys });

add('good', await mint(), 'ok');
add('good_no_kid_bare_jwk', await mint({}, { kid: undefined }), 'ok', 'bare');
add('good_with_cnf_and_pin', await mint({
  cnf: { 'x5t#S256': jose.base64url.encode(new Uint8Array(32).fill(7)) },
  node_pin: 'sha256//' + Buffer.alloc(32, 9).toString('base64'),
}), 'ok');
add('expired', await mint({ iat: now - 7200, exp: now - 3600 }), 'expired');
add('not_yet_valid', await mint({ nbf: now + 600 }), 'not_yet_valid');
add('issued_in_future', await mint({ iat: now + 600, exp: now + 1200 }), 'issued_in_future');
add('lifetime_too_long', await mint({ exp: now - 60 + 7200 }), 'lifetime_too_long');
add('never_expires', await mint({ exp: 253402300799 }), 'lifetime_too_long');
add('wrong_issuer', await mint({ iss: 'someone-else' }), 'wrong_issuer');
add('wrong_node', await mint({ node_id: 'another-node' }), 'wrong_node');
add('session_token', await mint({ token_type: 'session', scope: undefined }), 'wrong_token_type');
add('missing_session_id', await mint({ session_id: undefined }), 'missing_claim');
add('missing_exp', await mint({ exp: undefined }), 'missing_claim');
add('scope_as_string', await mint({ scope: 'job:execute metrics:read' }), 'bad_claim');
add('float_exp', await mint({ exp: now + 100.5 }), 'bad_claim');
add('string_iat', await mint({ iat: String(now) }), 'bad_claim');
add('unknown_kid', await mint({}, { kid: 'jose-2' }), 'unknown_kid');
add('crit', await mint({}, { crit: ['urn:example:x'], 'urn:example:x': 1 }, { crit: { 'urn:example:x': true } }),
  'crit_unsupported');
add('alg_none', new jose.UnsecuredJWT(base()).encode(), 'unsupported_alg');
// Sign with another key of the same kind under our kid.
const other = alg === 'HS256'
  ? await jose.generateSecret('HS256')
  : (await jose.generateKeyPair('EdDSA', { crv: 'Ed25519' })).privateKey;
add('signed_by_other_key', await mint({}, {}, undefined, other), 'bad_signature');
if (alg === 'EdDSA') {
  // Algorithm confusion: HS256 keyed with the Ed25519 public key's bytes, naming the Ed25519 key.
  const pkBytes = jose.base64url.decode(exported.x);
  add('alg_confusion', await mint({}, { alg: 'HS256' }, undefined, pkBytes), 'alg_mismatch');
}

process.stdout.write(JSON.stringify({ jwks, bare_jwk: exported, cases }));
