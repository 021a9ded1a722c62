import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Cluster, Redis, Result } from "ioredis";

const LUA_DIR = join(__dirname, "lua");

/** Reads `<name>-<numKeys>.lua`, pasting `--@include x` lines from lua/includes/x.lua. */
function loadScript(file: string): string {
  return readFileSync(join(LUA_DIR, file), "utf8").replace(/^--@include (\w+)\s*$/m, (_, inc: string) =>
    readFileSync(join(LUA_DIR, "includes", `${inc}.lua`), "utf8"),
  );
}

const scriptFiles = readdirSync(LUA_DIR).filter((f) => /^[a-z-]+-\d+\.lua$/.test(f));
const SCRIPTS = scriptFiles.map((file) => {
  const m = /^([a-z-]+)-(\d+)\.lua$/.exec(file)!;
  const name = "q" + m[1].replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
  return { name, numberOfKeys: Number(m[2]), lua: loadScript(file) };
});

const defined = new WeakSet<object>();

/** Defines the queue scripts on a client once (ioredis loads them with EVALSHA, falling back to EVAL). */
export function defineQueueScripts(redis: Redis | Cluster): void {
  if (defined.has(redis)) return;
  for (const s of SCRIPTS) redis.defineCommand(s.name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
  defined.add(redis);
}

type Arg = string | number;
declare module "ioredis" {
  interface RedisCommander<Context> {
    qIssueToken(
      seq: string,
      waiting: string,
      seen: string,
      active: string,
      users: string,
      ...argv: Arg[]
    ): Result<[string, string, number], Context>;
    qPoll(waiting: string, seen: string, active: string, rate: string, users: string, ...argv: Arg[]): Result<(number | string)[], Context>;
    qAuthorize(waiting: string, seen: string, active: string, users: string, ...argv: Arg[]): Result<(number | string)[], Context>;
    qTick(...keysAndArgv: Arg[]): Result<number[], Context>;
    qExtend(active: string, ...argv: Arg[]): Result<number, Context>;
    qFinish(waiting: string, seen: string, active: string, users: string, ...argv: Arg[]): Result<number, Context>;
  }
}
