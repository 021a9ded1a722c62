import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, spawnReady, startRedisServer, until, type RedisServer } from "@concert/test-support";
import Redis from "ioredis";

/** The master name the sentinels watch in these scenarios. */
export const MASTER_NAME = "sysq";

export interface SentinelGroup {
  primary: RedisServer;
  replica: RedisServer;
  sentinelPorts: number[];
  /** the URL the apps take: redis+sentinel://127.0.0.1:p1,p2,p3/<MASTER_NAME> */
  url: string;
  /** the port of the primary the sentinels name now */
  primaryPort(): Promise<number>;
  /** whether every sentinel sees a replica it could promote (up, not disconnected) */
  replicaUsable(): Promise<boolean>;
  /** a direct client of whatever the sentinels name primary (for checks) */
  client(): Redis;
  /** times a sentinel entered TILT mode so far (it then stops acting for 30 s: a stalled process or clock jump) */
  tilts(): number;
  stop(): Promise<void>;
}

// Failover settings scaled for a test: a primary unanswered for 1 s is down (compose: 5 s).
const DOWN_AFTER_MS = 1000;

/** Redis arguments of both data nodes: no 5 s wait before a replica's first sync. */
const NODE_ARGS = ["--repl-diskless-sync-delay", "0"];

/**
 * A primary, its replica and three sentinels (quorum 2) on loopback, each a real redis-server;
 * resolves once every sentinel knows the replica and the two other sentinels, so a failover can run.
 */
export async function startSentinelGroup(): Promise<SentinelGroup> {
  const dir = mkdtempSync(join(tmpdir(), "sys-sentinel-"));
  const primary = await startRedisServer({ dir, extraArgs: NODE_ARGS });
  const replica = await startRedisServer({ dir, extraArgs: [...NODE_ARGS, "--replicaof", "127.0.0.1", String(primary.port)] });
  const sentinels: ChildProcess[] = [];
  const sentinelPorts: number[] = [];
  let tilts = 0;
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const conf = join(dir, `sentinel-${port}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        "bind 127.0.0.1",
        `dir ${dir}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primary.port} 2`,
        `sentinel down-after-milliseconds ${MASTER_NAME} ${DOWN_AFTER_MS}`,
        `sentinel failover-timeout ${MASTER_NAME} 10000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
        "",
      ].join("\n"),
    );
    const sentinel = await startSentinel(conf, port);
    sentinel.stdout?.on("data", (d: Buffer) => (tilts += d.toString().match(/\+tilt/g)?.length ?? 0));
    sentinels.push(sentinel);
    sentinelPorts.push(port);
  }
  const ask = (port: number) => new Redis(port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 1 });
  const probes = sentinelPorts.map(ask);
  const ready = await until(
    () =>
      Promise.all(
        probes.map(async (p) => {
          const fields = (await p.call("SENTINEL", "MASTER", MASTER_NAME)) as string[];
          const field = (name: string) => Number(fields[fields.indexOf(name) + 1]);
          return field("num-slaves") === 1 && field("num-other-sentinels") === 2;
        }),
      ).catch(() => [false]),
    (all) => all.every(Boolean),
    20_000,
    100,
  );
  if (!ready.every(Boolean)) throw new Error("the sentinels did not discover the replica and each other in 20 s");
  const group: SentinelGroup = {
    primary,
    replica,
    sentinelPorts,
    url: `redis+sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(",")}/${MASTER_NAME}`,
    async primaryPort() {
      for (const p of probes) {
        const addr = (await p.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME).catch(() => null)) as string[] | null;
        if (addr) return Number(addr[1]);
      }
      throw new Error("no sentinel answered");
    },
    async replicaUsable() {
      const views = await Promise.all(
        probes.map(async (p) => {
          const replicas = (await p.call("SENTINEL", "REPLICAS", MASTER_NAME)) as string[][];
          return replicas.some((fields) => {
            const flags = fields[fields.indexOf("flags") + 1];
            return flags === "slave" && fields[fields.indexOf("master-link-status") + 1] === "ok";
          });
        }),
      ).catch(() => [false]);
      return views.every(Boolean);
    },
    client: () =>
      new Redis({
        sentinels: sentinelPorts.map((port) => ({ host: "127.0.0.1", port })),
        name: MASTER_NAME,
        maxRetriesPerRequest: 1,
        retryStrategy: () => 200,
      }),
    tilts: () => tilts,
    async stop() {
      probes.forEach((p) => p.disconnect());
      await Promise.all(sentinels.map(killProcess));
      await Promise.all([primary.kill(), replica.kill()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return group;
}

/** `redis-server <conf> --sentinel`, resolved once it monitors the primary. */
const startSentinel = (conf: string, port: number): Promise<ChildProcess> =>
  spawnReady("redis-server", [conf, "--sentinel"], "+monitor master", `sentinel on ${port}`);

async function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGKILL");
  await exited;
}

/** Replicas that finished their first sync and take the stream of writes. */
export async function onlineReplicas(primary: Redis): Promise<number> {
  return (await primary.info("replication")).match(/^slave\d+:.*state=online/gm)?.length ?? 0;
}
