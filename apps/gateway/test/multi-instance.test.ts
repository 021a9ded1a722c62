import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import Redis from "ioredis";
import { DEFAULT_REDIS_URL, queueKeys } from "@concert/shared";
import { GATEWAY_MAIN, call, closedPort, uniqueName } from "./helpers";

interface Instance {
  url: string;
  child: ChildProcess;
}

/** Starts `node dist/main.js` configured by environment only, and waits for its listening line. */
async function startProcess(env: Record<string, string>): Promise<Instance> {
  const port = await closedPort();
  const child = spawn(process.execPath, [GATEWAY_MAIN], {
    env: {
      ...process.env,
      NODE_ENV: "test",
      LOG_LEVEL: "info",
      PORT: String(port),
      HOST: "127.0.0.1",
      TOKEN_RATE_LIMIT: "0",
      HOLD_RATE_LIMIT: "0",
      MAX_HOLDS_PER_CLIENT: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      if (d.toString().includes("gateway listening")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`gateway exited ${code}: ${stderr}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

async function stopProcess(i: Instance): Promise<number | null> {
  if (i.child.exitCode !== null) return i.child.exitCode;
  i.child.kill("SIGTERM");
  const [code] = await once(i.child, "exit");
  return code as number | null;
}

describe("three gateway processes on one Redis", () => {
  const redis = new Redis(DEFAULT_REDIS_URL);
  afterAll(() => redis.quit());

  it("issues tokens through all three at once in one exact arrival order", async () => {
    const name = uniqueName("multi");
    const env = { QUEUE_NAME: name, ADMISSION_ENABLED: "false" };
    const gws = await Promise.all([startProcess(env), startProcess(env), startProcess(env)]);
    try {
      // concurrent: 300 users spread over the three instances get ranks 1..300, each once
      const concurrent = await Promise.all(
        Array.from({ length: 300 }, (_, i) => call(gws[i % 3].url, "POST", "/api/users/token", { body: { userId: i + 1 } })),
      );
      expect(concurrent.map((r) => r.body.result.rank).sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));

      // sequential through alternating instances: each later arrival is exactly one place further back
      const ranks: number[] = [];
      for (let i = 0; i < 30; i++) {
        const r = await call(gws[i % 3].url, "POST", "/api/users/token", { body: { userId: 1000 + i } });
        ranks.push(r.body.result.rank);
      }
      expect(ranks).toEqual(Array.from({ length: 30 }, (_, i) => 301 + i));

      // any instance answers a poll for a token another issued
      const t = concurrent[0].body.result.token;
      const polled = await call(gws[2].url, "GET", "/api/users/1/token", { headers: { token: t } });
      expect(polled.body.result.rank).toBe(concurrent[0].body.result.rank);
    } finally {
      const codes = await Promise.all(gws.map(stopProcess));
      expect(codes).toEqual([0, 0, 0]); // graceful SIGTERM exits 0
    }
  });

  it("admits the batch once per tick in total, head first, however many instances tick", async () => {
    const name = uniqueName("multi");
    const keys = queueKeys(name);
    const tickMs = 200;
    const batch = 7;
    const env = { QUEUE_NAME: name, QUEUE_TICK_MS: String(tickMs), QUEUE_ADMIT_BATCH: String(batch), QUEUE_MAX_ACTIVE: "100000" };
    const issuer = await startProcess({ ...env, ADMISSION_ENABLED: "false" });
    const tokens: string[] = [];
    for (let u = 1; u <= 200; u++)
      tokens.push((await call(issuer.url, "POST", "/api/users/token", { body: { userId: u } })).body.result.token);

    const started = Date.now();
    const gws = await Promise.all([startProcess(env), startProcess(env), startProcess(env)]);
    await new Promise((r) => setTimeout(r, 1500));
    await Promise.all(gws.map(stopProcess));
    const elapsedSlots = Math.ceil((Date.now() - started) / tickMs) + 1;
    await stopProcess(issuer);

    const stats = await redis.hgetall(keys.stats);
    const ticks = Number(stats.ticks);
    const admitted = Number(stats.admitted);
    expect(ticks).toBeGreaterThanOrEqual(3);
    expect(ticks).toBeLessThanOrEqual(elapsedSlots); // three instances, yet at most one tick per slot
    expect(admitted).toBe(ticks * batch); // each tick admitted exactly one batch
    expect(await redis.zcard(keys.active)).toBe(admitted);
    // the admitted are exactly the first arrivals
    const active = new Set(await redis.zrange(keys.active, 0, -1));
    expect(tokens.slice(0, admitted).every((t) => active.has(t))).toBe(true);
    expect(tokens.slice(admitted).some((t) => active.has(t))).toBe(false);
  });
});
