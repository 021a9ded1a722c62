// `node bench/auth-poll.mjs [seconds]`: scenario 1's poll (GET /api/users/{id}/token, autocannon,
// 50 connections, one gateway process and its own redis-server) in AUTH_MODE=none, and in
// AUTH_MODE=jwt (an RS256 bearer, AUTH_PUBLIC_KEY) with the cache of verified bearers on (the
// default) and off (AUTH_CACHE_SIZE=0). Prints req/s, latency and gateway CPU µs per request.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { freePort, measure, startProcess, startRedisServer } from "./lib.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "apps/gateway/package.json"));
const { SignJWT, exportSPKI, generateKeyPair } = require("jose");
const duration = Number(process.argv[2] ?? 5);

const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
const now = Math.floor(Date.now() / 1000);
const claims = { sub: "500", iss: "https://idp.bench/", aud: "concert-api", iat: now, exp: now + 3600 };
const jwt = await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "k" }).sign(privateKey);
const jwtEnv = { AUTH_MODE: "jwt", AUTH_PUBLIC_KEY: await exportSPKI(publicKey), AUTH_ISSUER: claims.iss, AUTH_AUDIENCE: claims.aud };

const redis = await startRedisServer();
const rows = [];
try {
  const modes = [
    ["none", { AUTH_MODE: "none" }, {}],
    ["jwt, cache on", jwtEnv, { authorization: `Bearer ${jwt}` }],
    ["jwt, cache off", { ...jwtEnv, AUTH_CACHE_SIZE: "0" }, { authorization: `Bearer ${jwt}` }],
  ];
  for (const [name, env, auth] of modes) {
    const port = await freePort();
    const gw = await startProcess(
      "gateway",
      [join(root, "apps/gateway/dist/main.js")],
      {
        NODE_ENV: "development",
        LOG_LEVEL: "warn",
        REDIS_URL: redis.url,
        QUEUE_NAME: `authpoll${rows.length}`,
        PORT: String(port),
        HOST: "127.0.0.1",
        ADMISSION_ENABLED: "false",
        TOKEN_RATE_LIMIT: "0",
        ...env,
      },
      `http://127.0.0.1:${port}/health`,
    );
    try {
      const url = `http://127.0.0.1:${port}`;
      const issued = await fetch(`${url}/api/users/token`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth },
        body: JSON.stringify({ userId: 500 }),
      }).then((r) => r.json());
      const headers = { token: issued.result.token, ...auth };
      await measure({ url: `${url}/api/users/500/token`, headers, connections: 50, duration: 1, pids: [gw.pid] }); // warm-up
      const m = await measure({ url: `${url}/api/users/500/token`, headers, connections: 50, duration, pids: [gw.pid] });
      rows.push({
        mode: name,
        rps: Math.round(m.rps),
        p50: m.p50,
        p99: m.p99,
        non2xx: m.non2xx,
        gatewayCpuUsPerReq: m.cpuUsPerReq[0].toFixed(1),
      });
    } finally {
      await gw.stop();
    }
  }
} finally {
  await redis.stop();
}
console.table(rows);
