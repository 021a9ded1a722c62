// Scenario 7: what REDIS_MIN_REPLICAS_ACK costs on POST /api/users/token. A primary and one replica
// of our own (loopback), two gateway instances on them, one with REDIS_MIN_REPLICAS_ACK=0 and one
// with 1 (each issue answered only after WAIT confirmed the replica has it), alternating round by
// round in the same run, same client (autocannon, 50 connections). CPU per request counts the
// gateway, the primary and the replica.
import { measure, medianOfRuns, startRedisServer } from "../lib.mjs";

export const id = 7;
export const title = "Token issue with REDIS_MIN_REPLICAS_ACK=1 (WAIT for one replica) vs 0";

export async function run(ctx) {
  let duration = ctx.quick ? 2 : 6;
  const rounds = ctx.quick ? 2 : 3;
  const connections = 50;
  // no 5 s wait before the replica's first sync
  const primary = await startRedisServer(["--repl-diskless-sync-delay", "0"]);
  const replica = await startRedisServer(["--replicaof", "127.0.0.1", String(primary.port)]);
  try {
    await replicaOnline(ctx, primary.url);
    const gateways = {
      ack0: await ctx.startGateway({ REDIS_URL: primary.url, QUEUE_NAME: "s7a", REDIS_MIN_REPLICAS_ACK: "0" }),
      ack1: await ctx.startGateway({ REDIS_URL: primary.url, QUEUE_NAME: "s7b", REDIS_MIN_REPLICAS_ACK: "1" }),
    };
    let nextUser = 1;
    const issue = (gateway) => () =>
      measure({
        url: gateway.url,
        connections,
        duration,
        pids: [gateway.pid, primary.pid, replica.pid],
        requests: [
          {
            method: "POST",
            path: "/api/users/token",
            headers: { "content-type": "application/json" },
            setupRequest: (req) => ({ ...req, body: JSON.stringify({ userId: nextUser++ }) }),
          },
        ],
      });
    const targets = { ack0: issue(gateways.ack0), ack1: issue(gateways.ack1) };
    // one short warm-up of each (JIT), not counted
    const warm = duration;
    duration = 1;
    for (const t of Object.values(targets)) await t();
    duration = warm;
    const runs = { ack0: [], ack1: [] };
    for (let round = 0; round < rounds; round++) for (const [name, t] of Object.entries(targets)) runs[name].push(await t());
    const s = medianOfRuns(runs);
    const row = (name, label) => {
      const x = s[name];
      const vs = s.ack0;
      return {
        name: label,
        rps: x.rps,
        p50: x.p50,
        p99: x.p99,
        cpuUs: x.cpuUs,
        result:
          name === "ack0"
            ? `baseline${x.non2xx ? `, ${x.non2xx} non-2xx` : ""}`
            : `${(x.rps / vs.rps).toFixed(2)}× its req/s, ${(x.cpuUs / vs.cpuUs).toFixed(2)}× its CPU/req, p50 +${(x.p50 - vs.p50).toFixed(1)} ms${x.non2xx ? `, ${x.non2xx} non-2xx` : ""}`,
        target: "measured, no target",
        met: null,
      };
    };
    return {
      rows: [row("ack0", "issue, REDIS_MIN_REPLICAS_ACK=0 (replica attached)"), row("ack1", "issue, REDIS_MIN_REPLICAS_ACK=1 (WAIT 1)")],
      notes: [
        `${rounds} alternating rounds × ${duration}s per target, autocannon ${connections} connections, medians; per-round req/s: ` +
          Object.entries(s)
            .map(([k, v]) => `${k} ${v.rpsAll.join("/")}`)
            .join(", "),
        "CPU µs/req = gateway + primary + replica. With =1 the gateway sends issues and their WAIT on a connection of their own and shares one WAIT among the issues that finished while none was out (apps/gateway/src/queue/replica-acks.ts), so a burst costs one replica round trip per batch, not per issue. Loopback replica: a replica across a network adds its round trip to every issue.",
      ],
    };
  } finally {
    await replica.stop();
    await primary.stop();
  }
}

/** Waits until the primary streams to its replica (first sync done). */
async function replicaOnline(ctx, url) {
  const Redis = (await import("ioredis")).default;
  const client = new Redis(url);
  try {
    const deadline = Date.now() + 20_000;
    while (!/^slave0:.*state=online/m.test(await client.info("replication"))) {
      if (Date.now() > deadline) throw new Error("the replica did not come online in 20 s");
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    client.disconnect();
  }
}
