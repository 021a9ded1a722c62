import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster } from "ioredis";
import RedisMock from "ioredis-mock";
import { AppError } from "../src/errors";
import { DEFAULT_REDIS_URL } from "../src/defaults";
import { defineScripts, luaScript, pasteIncludes, prelude, protocolProblems, runScript } from "../src/lua/loader";
import { QueueTokens, newQueueToken } from "../src/queue-store";
import { connectRedis, createRedis } from "../src/redis";
import { REFUSAL, refusalError } from "../src/queue-store/codes";
import { QUEUE_SCRIPTS } from "../src/queue-store/scripts";

const dir = mkdtempSync(join(tmpdir(), "lua-protocol-"));
function writeLua(name: string, source: string): string {
  const file = join(dir, name);
  mkdirSync(join(file, ".."), { recursive: true });
  writeFileSync(file, source);
  return file;
}

describe("the queue scripts' protocol", () => {
  it.each(QUEUE_SCRIPTS.map((s) => [s.name, s] as const))("%s returns only codes it names and reads KEYS/ARGV by name", (_, script) => {
    expect(protocolProblems(script)).toEqual([]);
  });

  it("has an AppError for every refusal code, and treats any other negative code as a bug", () => {
    for (const code of Object.values(REFUSAL)) expect(refusalError(code)).toBeInstanceOf(AppError);
    expect(() => refusalError(-99)).toThrow("unknown code -99");
  });
});

describe("the Lua loader", () => {
  it("finds a returned code the declaration does not name, and a KEY read by position", () => {
    const file = writeLua("check-1.lua", "if x then return {OK, 1} end\nif y then return 7 end\nlocal k = KEYS[1]\nreturn {GONE}\n");
    expect(protocolProblems({ file, codes: { OK: 1 } })).toEqual([
      "returns 7, not a name of its codes",
      "returns GONE, not a name of its codes",
      "reads KEYS[1] by position",
    ]);
  });

  it("pastes every include, an include's own includes, and each file once", () => {
    writeLua("includes/a.lua", "--@include b\nlocal a = 1");
    writeLua("includes/b.lua", "local b = 2");
    const source = "--@include a\nlocal x = 0\n--@include b\n--@include a\nreturn x";
    expect(pasteIncludes(source, join(dir, "includes"))).toBe("local b = 2\nlocal a = 1\nlocal x = 0\n\n\nreturn x");
  });

  it("writes the declaration's KEYS, ARGV, constants and codes into the script as locals", () => {
    const spec = {
      keys: ["waiting", "seen"],
      argv: { token: "string", ttlMs: "number" } as const,
      codes: { OK: 1, GONE: -1 },
      constants: { MAX: 9 },
    };
    expect(prelude(spec)).toBe(
      "local waitingKey, seenKey = KEYS[1], KEYS[2]\nlocal token, ttlMs = ARGV[1], tonumber(ARGV[2])\nlocal MAX, OK, GONE = 9, 1, -1\n",
    );
  });

  it("refuses a file whose name disagrees with the number of KEYS declared", () => {
    const file = writeLua("two-2.lua", "return OK");
    expect(() => luaScript({ name: "two", file, keys: ["a"], argv: {}, codes: { OK: 1 }, decode: (r) => r })).toThrow("-1.lua");
  });

  it("passes keys and ARGV by name, in the declared order, and decodes the reply", async () => {
    const file = writeLua("echo-2.lua", "return {OK, firstKey, secondKey, b, a + 1}");
    const script = luaScript({
      name: "protocolEcho",
      file,
      keys: ["first", "second"],
      argv: { b: "string", a: "number" },
      codes: { OK: 1 },
      decode: (r) => r as unknown[],
    });
    const other = luaScript({ ...script, file: writeLua("other-2.lua", "return {OK}") });
    const redis = new RedisMock();
    try {
      await expect(runScript(redis, script, { second: "k2", first: "k1" }, { a: 41, b: "bee" })).rejects.toThrow(
        "protocolEcho is not defined on this client",
      );
      defineScripts(redis, [script]);
      expect(await runScript(redis, script, { second: "k2", first: "k1" }, { a: 41, b: "bee" })).toEqual([1, "k1", "k2", "bee", 42]);
      expect(() => defineScripts(redis, [other])).toThrow("two Lua scripts are named protocolEcho");
    } finally {
      redis.disconnect();
    }
  });

  it("keyList: any number of KEYS as the table `<key>Keys`, the count sent with each call; the file is named -n.lua (real Redis)", async () => {
    expect(prelude({ keys: ["seat"], keyList: true, argv: { owner: "string" }, codes: { OK: 1 } })).toBe(
      "local seatKeys = KEYS\nlocal owner = ARGV[1]\nlocal OK = 1\n",
    );
    const spec = { name: "protocolKeyList", keys: ["seat"], keyList: true, argv: { tag: "string" }, codes: { OK: 1 } } as const;
    expect(() => luaScript({ ...spec, file: writeLua("list-1.lua", "return {OK}"), decode: (r) => r })).toThrow("-n.lua");
    const script = luaScript({
      ...spec,
      file: writeLua("list-n.lua", "return {OK, #seatKeys, seatKeys[#seatKeys], tag}"),
      decode: (r) => r,
    });
    const redis = createRedis(DEFAULT_REDIS_URL);
    try {
      await connectRedis(redis, DEFAULT_REDIS_URL);
      defineScripts(redis, [script]);
      expect(await runScript(redis, script, { seat: ["{t}:1", "{t}:2", "{t}:3"] }, { tag: "x" })).toEqual([1, 3, "{t}:3", "x"]);
      expect(await runScript(redis, script, { seat: ["{t}:9"] }, { tag: "y" })).toEqual([1, 1, "{t}:9", "y"]);
      // a single Redis has no slots: the script joins the auto-pipeline (one socket write with the
      // commands sent beside it); only a Cluster client keeps it out (see keepOutOfAutoPipelines)
      const both = Promise.all([runScript(redis, script, { seat: ["{t}:5"] }, { tag: "z" }), redis.get("{t}:none")]);
      expect(redis.autoPipelineQueueSize).toBe(2);
      expect(await both).toEqual([[1, 1, "{t}:5", "z"], null]);
      expect(redis.options.autoPipeliningIgnoredCommands ?? []).not.toContain(spec.name);
    } finally {
      redis.disconnect();
    }
    const cluster = new Cluster([{ host: "127.0.0.1", port: 1 }], { lazyConnect: true });
    defineScripts(cluster, [script]);
    expect(cluster.options.autoPipeliningIgnoredCommands).toContain(spec.name);
  });

  it("a store's scripts run inside an auto-pipeline that was opened before their first use (real Redis)", async () => {
    // ioredis copies a client's commands into each auto-pipeline it opens; a script defined
    // after that (as a lazy first-use definition did) is missing there and the pipeline throws
    const redis = createRedis(DEFAULT_REDIS_URL);
    await connectRedis(redis, DEFAULT_REDIS_URL);
    try {
      const tokens = new QueueTokens(redis, { name: `protocol-${process.pid}`, paymentReplaySec: 1 });
      const [seq, finished] = await Promise.all([redis.get(tokens.keys.seq), tokens.finish(newQueueToken(1), "paid")]);
      expect([seq, finished]).toEqual([null, false]);
    } finally {
      redis.disconnect();
    }
  });
});
