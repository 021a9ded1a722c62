// Scenario 1: GET /api/users/{id}/token (poll) and POST /api/users/token (issue) on one gateway
// instance, alternating round by round with a bare Express 5 JSON hello-world and a raw node:http
// JSON server: same client (autocannon, 50 connections), same run. CPU per request counts the app
// process, and for the gateway also the Redis server (work moved into Lua is not free).
import { join } from "node:path";
import { measure, medianOfRuns, startProcess, freePort } from "../lib.mjs";

export const id = 1;
export const title = "Gateway poll and issue vs bare Express and raw node:http";

export async function run(ctx) {
  let duration = ctx.quick ? 2 : 6;
  const rounds = ctx.quick ? 2 : 3;
  const connections = 50;
  const queueName = "s1";
  const redisPid = ctx.redisServer.pid;

  const ports = { raw: await freePort(), express: await freePort() };
  const raw = await startProcess(
    "raw",
    [join(ctx.root, "bench/servers/raw-http.cjs")],
    { PORT: ports.raw },
    `http://127.0.0.1:${ports.raw}/`,
  );
  const bare = await startProcess(
    "express",
    [join(ctx.root, "bench/servers/express-hello.cjs")],
    { PORT: ports.express },
    `http://127.0.0.1:${ports.express}/`,
  );
  try {
    const gateway = await ctx.startGateway({ QUEUE_NAME: queueName });
    const gw = gateway.url;
    // A queue of 1,000 waiting users; the polled user is in the middle.
    const tokens = [];
    for (let u = 1; u <= 1000; u += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, (_, k) =>
          fetch(`${gw}/api/users/token`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ userId: u + k }),
          }).then((r) => r.json()),
        ),
      );
      for (const b of batch) tokens.push(b.result.token);
    }
    let nextUser = 1_000_000;

    const targets = {
      raw: () => measure({ url: `http://127.0.0.1:${ports.raw}/`, connections, duration, pids: [raw.pid] }),
      express: () => measure({ url: `http://127.0.0.1:${ports.express}/`, connections, duration, pids: [bare.pid] }),
      poll: () =>
        measure({
          url: `${gw}/api/users/500/token`,
          headers: { token: tokens[499] },
          connections,
          duration,
          pids: [gateway.pid, redisPid],
        }),
      issue: () =>
        measure({
          url: gw,
          connections,
          duration,
          pids: [gateway.pid, redisPid],
          requests: [
            {
              method: "POST",
              path: "/api/users/token",
              headers: { "content-type": "application/json" },
              setupRequest: (req) => ({ ...req, body: JSON.stringify({ userId: nextUser++ }) }),
            },
          ],
        }),
    };
    // one short warm-up of each (JIT), not counted
    const warm = duration;
    duration = 1;
    for (const t of Object.values(targets)) await t();
    duration = warm;
    const runs = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
    for (let round = 0; round < rounds; round++) {
      for (const [name, t] of Object.entries(targets)) runs[name].push(await t());
    }
    const s = medianOfRuns(runs);
    const base = s.express;
    const row = (name, label, target) => {
      const x = s[name];
      const byRps = x.rps / base.rps;
      const byCpu = base.cpuUs / x.cpuUs;
      const withRedis = name === "poll" || name === "issue";
      return {
        name: label,
        rps: x.rps,
        p50: x.p50,
        p99: x.p99,
        cpuUs: x.cpuUs,
        cpuDetail: withRedis ? `${x.appCpuUs.toFixed(0)} gw + ${(x.cpuUs - x.appCpuUs).toFixed(0)} redis` : undefined,
        result: `${byRps.toFixed(2)}× Express by req/s, ${byCpu.toFixed(2)}× by CPU${x.non2xx ? `, ${x.non2xx} non-2xx` : ""}`,
        target: target ? `≥ ${target}× Express` : "baseline",
        met: target ? byRps >= target && byCpu >= target && x.non2xx === 0 : null,
        metDetail: target ? { byRps: byRps >= target, byCpu: byCpu >= target } : undefined,
        ratio: { byRps, byCpu },
        limits:
          target && !(byRps >= target && byCpu >= target)
            ? "gateway CPU: the two routes are served on plain node:http ahead of Express (apps/gateway/src/api/hot-routes.ts); profile with `node bench/profile.mjs gateway-poll` (or gateway-issue) to see where the rest goes"
            : undefined,
      };
    };
    const rows = [
      row("raw", "raw node:http JSON", null),
      row("express", "bare Express 5 JSON hello-world", null),
      row("poll", "gateway poll GET /api/users/{id}/token", 0.85),
      row("issue", "gateway issue POST /api/users/token", 0.7),
    ];
    return {
      rows,
      notes: [
        `${rounds} alternating rounds × ${duration}s per target, autocannon ${connections} connections, medians; per-round req/s: ` +
          Object.entries(s)
            .map(([k, v]) => `${k} ${v.rpsAll.join("/")}`)
            .join(", "),
        "CPU µs/req of the gateway rows = gateway process + redis-server; baselines count their own process only. 'met' needs both ratios.",
        "The gateway runs as deployed (LOG_LEVEL=info, metrics on) with the token rate limit on (1,000,000 per 1 s, so the bench's one client address is never refused but every issue pays the limiter's Redis call). Both routes are served by the gateway's node:http hot path (apps/gateway/src/api/hot-routes.ts); other routes go through Express.",
      ],
    };
  } finally {
    await Promise.all([raw.stop(), bare.stop()]);
    const keys = await ctx.redis.keys(`{q:${queueName}}:*`);
    for (let i = 0; i < keys.length; i += 1000) await ctx.redis.del(...keys.slice(i, i + 1000));
  }
}
