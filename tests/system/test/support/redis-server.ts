import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const s = createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

export interface RedisServer {
  port: number;
  url: string;
  /** SIGKILL: Redis keeps nothing (no RDB, no AOF) */
  kill(): Promise<void>;
  /** starts again on the same port, empty */
  restart(): Promise<void>;
  running(): boolean;
}

/** A dedicated redis-server on a spare port that this suite may kill and restart. */
export async function startRedisServer(opts: { port?: number; extraArgs?: string[]; dir?: string } = {}): Promise<RedisServer> {
  const port = opts.port ?? (await freePort());
  let child: ChildProcess | null = null;
  const launch = async () => {
    const c = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        opts.dir ?? tmpdir(),
        ...(opts.extraArgs ?? []),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child = c;
    let out = "";
    await new Promise<void>((resolve, reject) => {
      c.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("Ready to accept connections")) resolve();
      });
      c.once("exit", (code) => reject(new Error(`redis-server on ${port} exited ${code}: ${out.slice(-500)}`)));
    });
    c.stdout.resume();
    c.stderr.resume();
  };
  await launch();
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    running: () => !!child && child.exitCode === null && child.signalCode === null,
    async kill() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = once(c, "exit");
      c.kill("SIGKILL");
      await exited;
    },
    async restart() {
      await server.kill();
      await launch();
    },
  };
  return server;
}

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
    await new Promise((r) => setTimeout(r, 200));
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
