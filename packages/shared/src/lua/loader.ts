import { readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Cluster, Redis } from "ioredis";
import { redisFailure } from "../redis";

/*
 * One loader for every Lua script of both apps. A script is declared once in TypeScript (its
 * command name, file, KEYS and ARGV in order, reply codes, and the decoder of its reply); the
 * loader writes that declaration into the Lua as locals, so the order of KEYS and ARGV and the
 * value of each code are written in one place only:
 *
 *   local waitingKey, seenKey = KEYS[1], KEYS[2]
 *   local prefix, retentionMs = ARGV[1], tonumber(ARGV[2])
 *   local MAX_ID, WAITING, UNKNOWN_TOKEN = 2147483647, 1, -1     (constants, then codes)
 *
 * and then pastes every `--@include <name>` line with `includes/<name>.lua` next to the script.
 */

/** How an ARGV reaches the script: as the string Redis hands over, or through tonumber. */
export type ArgType = "string" | "number";
export type ArgSpec = Record<string, ArgType>;
export type Codes = Record<string, number>;

/** The values a caller passes for a script's ARGV, by name. */
export type ArgValues<A extends ArgSpec> = { [N in keyof A]: A[N] extends "number" ? number : string | number };

export interface LuaScriptSpec<K extends string, A extends ArgSpec, C extends Codes, R> {
  /** the ioredis command name (unique per client) */
  name: string;
  /** absolute path of `<name>-<numberOfKeys>.lua` (`<name>-n.lua` with `keyList`) */
  file: string;
  /** KEYS in order, each named as the Lua local `<key>Key` */
  keys: readonly K[];
  /**
   * The script takes any number of KEYS (a several-seat hold's seats), all of them as the Lua
   * table `<key>Keys` of its one declared key; the caller passes that key as a list.
   */
  keyList?: true;
  /** ARGV in order (object key order), each named as the Lua local `<name>` */
  argv: A;
  /** every code the script may return, as Lua locals of the same names */
  codes: C;
  /** other TypeScript values the Lua needs (its includes too), as Lua locals of the same names */
  constants?: Codes;
  /** turns the raw reply into the script's result (or throws its refusal) */
  decode: (reply: unknown) => R;
}

export interface LuaScript<K extends string, A extends ArgSpec, C extends Codes, R> extends LuaScriptSpec<K, A, C, R> {
  /** undefined with `keyList`: the count goes with each call */
  numberOfKeys: number | undefined;
  /** ARGV names in order */
  argNames: readonly string[];
  /** the Lua that Redis runs: prelude of locals, script, includes pasted */
  lua: string;
}

const LUA_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const INCLUDE = /^--@include ([\w-]+)[ \t]*$/gm;

/**
 * Pastes every `--@include x` line with `<includesDir>/x.lua`, and the includes' own includes;
 * each file once per script (a second `--@include x` pastes nothing: its locals are already there).
 */
export function pasteIncludes(source: string, includesDir: string, pasted = new Set<string>()): string {
  return source.replace(INCLUDE, (_, name: string) => {
    if (pasted.has(name)) return "";
    pasted.add(name);
    return pasteIncludes(readFileSync(join(includesDir, `${name}.lua`), "utf8"), includesDir, pasted);
  });
}

/** The locals a script starts with: its KEYS, ARGV and codes, by name. */
export function prelude(spec: { keys: readonly string[]; keyList?: true; argv: ArgSpec; codes: Codes; constants?: Codes }): string {
  const line = (names: string[], values: string[]) => (names.length ? `local ${names.join(", ")} = ${values.join(", ")}\n` : "");
  const keyNames = spec.keys.map((k) => (spec.keyList ? `${k}Keys` : `${k}Key`));
  const argNames = Object.keys(spec.argv);
  const values = { ...spec.constants, ...spec.codes };
  const codeNames = Object.keys(values);
  for (const name of [...keyNames, ...argNames, ...codeNames]) {
    if (!LUA_NAME.test(name)) throw new Error(`not a Lua name: ${name}`);
  }
  return (
    line(
      keyNames,
      keyNames.map((_, i) => (spec.keyList ? "KEYS" : `KEYS[${i + 1}]`)),
    ) +
    line(
      argNames,
      argNames.map((n, i) => (spec.argv[n] === "number" ? `tonumber(ARGV[${i + 1}])` : `ARGV[${i + 1}]`)),
    ) +
    line(
      codeNames,
      codeNames.map((n) => String(values[n])),
    )
  );
}

/** Reads a script and checks that its file name's key count agrees with its declaration. */
export function luaScript<K extends string, A extends ArgSpec, C extends Codes, R>(spec: LuaScriptSpec<K, A, C, R>): LuaScript<K, A, C, R> {
  const m = /-(\d+|n)\.lua$/.exec(basename(spec.file));
  const count = spec.keyList ? "n" : String(spec.keys.length);
  if (!m || m[1] !== count || (spec.keyList && spec.keys.length !== 1)) {
    throw new Error(`${basename(spec.file)}: the file name must end in -${count}.lua (it takes ${count} KEYS)`);
  }
  const body = pasteIncludes(readFileSync(spec.file, "utf8"), join(dirname(spec.file), "includes"));
  const numberOfKeys = spec.keyList ? undefined : spec.keys.length;
  return { ...spec, numberOfKeys, argNames: Object.keys(spec.argv), lua: prelude(spec) + body };
}

type Command = (...args: (string | number)[]) => Promise<unknown>;
/** per client: the scripts defined on it, name → Lua */
const defined = new WeakMap<object, Map<string, string>>();

/**
 * Defines scripts on a client, each once (ioredis then runs them by EVALSHA, falling back to
 * EVAL). Call it where the client's users are built, before they send anything: ioredis's
 * auto-pipelines copy the commands a client has when a pipeline is made, so a script defined
 * while a pipeline is open is missing from it and that pipeline fails (it crashed the process).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- scripts of any shape
export function defineScripts(redis: Redis | Cluster, scripts: readonly LuaScript<string, ArgSpec, Codes, any>[]): void {
  let done = defined.get(redis);
  if (!done) defined.set(redis, (done = new Map<string, string>()));
  for (const script of scripts) {
    const lua = done.get(script.name);
    if (lua === undefined) {
      redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
      if (script.keyList && redis.isCluster) keepOutOfAutoPipelines(redis, script.name);
      done.set(script.name, script.lua);
    } else if (lua !== script.lua) {
      throw new Error(`two Lua scripts are named ${script.name} on one client`);
    }
  }
}

/**
 * A `keyList` script's first argument is its key count, not a key, and a Redis Cluster client's
 * auto-pipelines group commands by the slot of their first argument: such a script would join a
 * pipeline of another node's slots ("All keys in the pipeline should belong to the same slots
 * allocation group"). Sent on its own, ioredis routes it by its real keys. The option is read at
 * each call, so naming the command here (before the client's users send anything) takes effect.
 * A single Redis has no slots: there the script joins the auto-pipeline like any command (one
 * socket write less: a hold's gate claim goes out with its lease).
 */
function keepOutOfAutoPipelines(redis: Redis | Cluster, name: string): void {
  const options = redis.options as { autoPipeliningIgnoredCommands?: string[] };
  options.autoPipeliningIgnoredCommands = [...(options.autoPipeliningIgnoredCommands ?? []), name];
}

/**
 * Runs a script that {@link defineScripts} defined on the client, keys and ARGV passed by name.
 * A Redis outage comes out as DependencyError("redis").
 */
export function runScript<K extends string, A extends ArgSpec, C extends Codes, R>(
  redis: Redis | Cluster,
  script: LuaScript<K, A, C, R>,
  keys: Record<K, string | readonly string[]>,
  argv: ArgValues<A>,
): Promise<R> {
  if (defined.get(redis)?.get(script.name) !== script.lua) {
    return Promise.reject(
      new Error(`Lua script ${script.name} is not defined on this client: pass it to defineScripts when the client's users are built`),
    );
  }
  const args: (string | number)[] = [];
  for (const k of script.keys) {
    const key = keys[k];
    if (typeof key === "string") args.push(key);
    else args.push(key.length, ...key); // keyList: the count goes first
  }
  for (const n of script.argNames) args.push(argv[n]);
  const command = (redis as unknown as Record<string, Command>)[script.name];
  // one promise step on the poll's path: decode, or mark the failure as the Redis adapter does
  return command.apply(redis, args).then(script.decode, (err: unknown) => {
    throw redisFailure(err);
  });
}

/**
 * The first word of every `return` in a script's own file (not its includes). Every reply is led
 * by a code, so each must be one of the script's code names.
 */
export function returnedCodes(file: string): string[] {
  const source = readFileSync(file, "utf8").replace(/--.*$/gm, "");
  return [...source.matchAll(/\breturn\b\s*\{?\s*([^\s,}]+)/g)].map((m) => m[1]);
}

/**
 * What breaks a script's protocol, for tests to keep empty: a return led by anything but one of
 * its code names, or KEYS / ARGV read by position instead of through the declared locals.
 */
export function protocolProblems(script: { file: string; codes: Codes }): string[] {
  const unnamed = returnedCodes(script.file).filter((word) => !Object.hasOwn(script.codes, word));
  const positional = readFileSync(script.file, "utf8").match(/\b(KEYS|ARGV)\[\d*\]?/g) ?? [];
  return [...unnamed.map((word) => `returns ${word}, not a name of its codes`), ...positional.map((p) => `reads ${p} by position`)];
}
