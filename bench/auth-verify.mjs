// `node bench/auth-verify.mjs [seconds]`: what AUTH_MODE=jwt costs a request, in one process (no
// HTTP): BearerVerifier.verify on one bearer, again and again (a waiting client's polls), with the
// cache of verified bearers (AUTH_CACHE_SIZE, the default) and without it (AUTH_CACHE_SIZE=0),
// for RS256 and ES256 tokens. Prints verifications per second and µs per verification.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "apps/gateway/package.json"));
const { SignJWT, generateKeyPair } = require("jose");
const { BearerVerifier } = require(join(root, "apps/gateway/dist/auth/verifier.js"));
const { createLogger } = require(join(root, "packages/shared/dist/index.js"));

const seconds = Number(process.argv[2] ?? 2);
const logger = createLogger("gateway", "silent");

async function measure(alg, cacheSize) {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  const now = Math.floor(Date.now() / 1000);
  const jwt = await new SignJWT({ sub: "12345", iss: "https://idp.bench/", aud: "concert-api", iat: now, exp: now + 3600 })
    .setProtectedHeader({ alg, kid: "k" })
    .sign(privateKey);
  const verifier = new BearerVerifier({
    keys: publicKey,
    issuer: "https://idp.bench/",
    audience: "concert-api",
    userClaim: "sub",
    algorithms: [alg],
    clockToleranceSec: 5,
    cache: { size: cacheSize, maxAgeMs: 60_000 },
    logger,
  });
  for (let i = 0; i < 200; i++) await verifier.verify(jwt); // warm up
  let n = 0;
  const started = process.hrtime.bigint();
  const end = started + BigInt(seconds * 1e9);
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 100; i++) await verifier.verify(jwt);
    n += 100;
  }
  const us = Number(process.hrtime.bigint() - started) / 1000 / n;
  return { alg, cache: cacheSize === 0 ? "off" : "on", perSec: Math.round(1e6 / us), us: us.toFixed(2) };
}

const rows = [];
for (const alg of ["RS256", "ES256"]) for (const size of [0, 100_000]) rows.push(await measure(alg, size));
console.table(rows);
