import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, sleep, startRedisServer, type RedisServer } from "@concert/test-support";

const run = promisify(execFile);

export { freePort, startRedisServer, type RedisServer };

export interface RedisCluster {
  ports: number[];
  /** the ioredis Cluster URL the apps take: redis+cluster://127.0.0.1:p1,... */
  url: string;
  stop(): Promise<void>;
}

/** Three masters on loopback (no replicas), slots spread by redis-cli --cluster create. */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), "sys-cluster-"));
  const nodes: RedisServer[] = [];
  for (let i = 0; i < masters; i++) {
    const port = await freePort();
    nodes.push(
      await startRedisServer({
        port,
        dir,
        extraArgs: ["--cluster-enabled", "yes", "--cluster-config-file", join(dir, `nodes-${port}.conf`), "--cluster-node-timeout", "2000"],
      }),
    );
  }
  const ports = nodes.map((n) => n.port);
  await run("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"], {
    timeout: 30_000,
  });
  // wait until every node agrees the cluster is up
  const deadline = Date.now() + 20_000;
  for (;;) {
    const states = await Promise.all(
      ports.map((p) =>
        run("redis-cli", ["-p", String(p), "cluster", "info"]).then(
          (r) => /cluster_state:ok/.test(r.stdout),
          () => false,
        ),
      ),
    );
    if (states.every(Boolean)) break;
    if (Date.now() > deadline) throw new Error("Redis Cluster did not become ready");
    await sleep(200);
  }
  return {
    ports,
    url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(",")}`,
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
