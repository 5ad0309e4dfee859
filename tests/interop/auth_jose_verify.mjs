// Verifies tokens minted by cyxp2p::auth with `jose` (npm) for tests/interop/auth_jose_test.cpp.
// usage: node auth_jose_verify.mjs KEYFILE HS256|EdDSA NOW TOKEN...
// KEYFILE is a JWK Set (verified through createLocalJWKSet) or a single JWK (importJWK).
// prints [{"ok": true, "header": {...}, "payload": {...}} | {"ok": false, "code": "ERR_..."}] per token.
import { readFileSync } from 'node:fs';
import * as jose from 'jose';

const [file, alg, nowArg, ...tokens] = process.argv.slice(2);
const doc = JSON.parse(readFileSync(file, 'utf8'));
const key = doc.keys ? jose.createLocalJWKSet(doc) : await jose.importJWK(doc, alg);
const options = {
  issuer: 'cyxwiz-central-server',
  algorithms: [alg],
  currentDate: new Date(Number(nowArg) * 1000),
  clockTolerance: 30,
  maxTokenAge: 3600,
  requiredClaims: ['iat', 'exp', 'sub'],
};
const out = [];
for (const token of tokens) {
  try {
    const { payload, protectedHeader } = await jose.jwtVerify(token, key, options);
    out.push({ ok: true, header: protectedHeader, payload });
  } catch (e) {
    out.push({ ok: false, code: e.code ?? String(e) });
  }
}
process.stdout.write(JSON.stringify(out));
