import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports";

export interface RedisServer {
  port: number;
  url: string;
  /** SIGKILL: Redis keeps nothing (no RDB, no AOF) */
  kill(): Promise<void>;
  /** starts again on the same port, empty */
  restart(): Promise<void>;
  running(): boolean;
}

export interface RedisServerOptions {
  /** a spare port unless given */
  port?: number;
  /** more redis-server arguments, e.g. cluster mode */
  extraArgs?: string[];
  /**
   * where redis-server may write (cluster config files, AOF); unless given, a scratch directory of
   * its own, emptied before every start: a replica's full sync writes an RDB file even with
   * `--save ""`, and a server loads any RDB file in its directory when it starts
   */
  dir?: string;
}

/** The servers' scratch directories, removed when the test process exits. */
const scratchDirs = new Set<string>();
process.once("exit", () => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

/** A dedicated redis-server on loopback that a test may kill and restart (the shared one must never be stopped). */
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const port = opts.port ?? (await freePort());
  const scratch = opts.dir === undefined ? mkdtempSync(join(tmpdir(), "redis-test-")) : undefined;
  if (scratch) scratchDirs.add(scratch);
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", opts.dir ?? scratch!];
  let child: ChildProcess | null = null;
  const launch = async () => {
    if (scratch) rmSync(join(scratch, "dump.rdb"), { force: true }); // empty on every start
    child = await spawnReady(
      "redis-server",
      [...args, ...(opts.extraArgs ?? [])],
      "Ready to accept connections",
      `redis-server on ${port}`,
    );
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

/**
 * Spawns `command` and resolves once its stdout has printed `readyText` (a redis-server or
 * sentinel saying it is up); rejects if it fails to start or exits first. Its output is drained
 * from then on, so a chatty process never blocks on a full pipe.
 */
export async function spawnReady(command: string, args: string[], readyText: string, what: string): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes(readyText)) resolve();
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`${what} exited ${code}: ${out.slice(-500)}`)));
  });
  child.stdout.resume();
  child.stderr.resume();
  return child;
}
