// Helpers for the benchmark: child processes, CPU time from /proc, autocannon runs.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connect, createServer } from "node:net";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
export const autocannon = require("autocannon");
const TICKS = 100; // USER_HZ on Linux

export async function freePort() {
  const s = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => s.once("listening", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** Starts a node process and waits until `readyUrl` answers 200. */
export async function startProcess(name, args, env, readyUrl) {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}: ${err}`);
    try {
      if ((await fetch(readyUrl)).ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`${name} did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    name,
    pid: child.pid,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

/** One autocannon run; returns req/s, latency percentiles, errors and CPU per request. */
export async function measure({ url, connections = 50, duration, requests, method = "GET", headers, body, pids }) {
  const before = pids.map(cpuSeconds);
  const result = await autocannon({ url, connections, duration, requests, method, headers, body });
  const cpu = pids.map((pid, i) => cpuSeconds(pid) - before[i]);
  const total = result.requests.total;
  return {
    rps: result.requests.average,
    total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx + result.errors + result.timeouts,
    cpuUsPerReq: cpu.map((c) => (c * 1e6) / Math.max(1, total)),
  };
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * The medians of each target's `measure` runs (rounds alternating between targets in one run):
 * req/s, p50, p99, CPU µs per request over all measured pids and of the first pid alone (the
 * app), non-2xx answers in all, and every round's req/s.
 */
export function medianOfRuns(runs) {
  return Object.fromEntries(
    Object.entries(runs).map(([name, rs]) => [
      name,
      {
        rps: median(rs.map((r) => r.rps)),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        cpuUs: median(rs.map((r) => r.cpuUsPerReq.reduce((a, b) => a + b, 0))),
        appCpuUs: median(rs.map((r) => r.cpuUsPerReq[0])),
        cpuUsPerPid: rs[0].cpuUsPerReq.map((_, i) => median(rs.map((r) => r.cpuUsPerReq[i]))),
        non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
        rpsAll: rs.map((r) => Math.round(r.rps)),
      },
    ]),
  );
}

// ---------------------------------------------------------------------------------------------
// Added for the scenario modules: a Redis server of our own, a closed-loop HTTP client with
// exact (µs) latencies, percentiles, CPU accounting over several pids, a bench database.
import http from "node:http";
import { execFile, execFileSync } from "node:child_process";
import { cpus, tmpdir, totalmem } from "node:os";

/**
 * Starts `redis-server` on a spare loopback port (`extraArgs` e.g. --replicaof); returns {url, port, pid, stop}.
 * It saves nothing, but a replica's full sync still writes an RDB file: the server gets a scratch
 * directory of its own, removed on stop, so nothing lands in the caller's working directory.
 */
export async function startRedisServer(extraArgs = []) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "bench-redis-"));
  const child = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "no",
      "--maxclients",
      "10000",
      ...extraArgs,
    ],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  const Redis = require("ioredis");
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited ${child.exitCode}`);
    const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on("error", () => {});
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      break;
    } catch {
      probe.disconnect();
    }
    if (Date.now() > deadline) throw new Error("redis-server did not start");
    await sleep(50);
  }
  return {
    port,
    pid: child.pid,
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** Sum of CPU seconds of several pids (a pid that is gone counts 0). */
export function cpuOf(pids) {
  return pids.reduce((sum, pid) => {
    try {
      return sum + cpuSeconds(pid);
    } catch {
      return sum;
    }
  }, 0);
}

/**
 * A burst of HTTP/1.1 requests sent at once, one per pre-opened connection, as a load generator
 * like wrk does it: each request is a ready Buffer written straight to its socket and each answer
 * read as bytes (status line and Content-Length), so the client's own CPU stays small beside the
 * servers' on a shared machine. `open(n)` connects n sockets; `send(specs)` writes spec i to socket
 * i and resolves [{status, json, ms}] in order. Every answer must carry Content-Length (ours do).
 */
export async function rawBurstClient(base, n) {
  const u = new URL(base);
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise((resolve, reject) => {
          const s = connect({ host: u.hostname, port: Number(u.port), noDelay: true }, () => resolve(s));
          s.once("error", reject);
        }),
    ),
  );
  const head = (method, path, headers, length) =>
    `${method} ${path} HTTP/1.1\r\nhost: ${u.host}\r\n` +
    Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("") +
    (length === undefined ? "" : `content-type: application/json\r\ncontent-length: ${length}\r\n`) +
    "\r\n";
  /** specs[i] = {method, path, headers, body}: the requests, built into bytes before any is sent */
  function send(specs) {
    const bytes = specs.map(({ method, path, headers = {}, body }) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const h = Buffer.from(head(method, path, headers, payload?.length));
      return payload ? Buffer.concat([h, payload]) : h;
    });
    const t0 = process.hrtime.bigint();
    return Promise.all(
      bytes.map(
        (request, i) =>
          new Promise((resolve) => {
            const s = sockets[i];
            let got = Buffer.alloc(0);
            const onData = (chunk) => {
              got = got.length ? Buffer.concat([got, chunk]) : chunk;
              const end = got.indexOf("\r\n\r\n");
              if (end < 0) return;
              const headText = got.subarray(0, end).toString("latin1");
              const length = Number(/\r\ncontent-length: *(\d+)/i.exec(headText)?.[1] ?? 0);
              if (got.length < end + 4 + length) return;
              s.off("data", onData);
              const ms = Number(process.hrtime.bigint() - t0) / 1e6;
              let json = null;
              try {
                json = JSON.parse(got.subarray(end + 4, end + 4 + length).toString("utf8"));
              } catch {
                /* not JSON */
              }
              resolve({ status: Number(headText.slice(9, 12)), json, ms });
            };
            s.on("data", onData);
            s.write(request);
          }),
      ),
    );
  }
  return { send, close: () => sockets.forEach((s) => s.destroy()) };
}

/** A keep-alive HTTP client for loopback load. */
export function httpClient(base, { maxSockets = 256 } = {}) {
  const u = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, keepAliveMsecs: 10_000 });
  /** one request; resolves {status, json, ms} (never rejects: network errors give status 0) */
  function request(method, path, { headers = {}, body } = {}) {
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const h = { ...headers };
    if (payload !== undefined) {
      h["content-type"] = "application/json";
      h["content-length"] = Buffer.byteLength(payload);
    }
    const t0 = process.hrtime.bigint();
    return new Promise((resolve) => {
      const req = http.request({ host: u.hostname, port: u.port, method, path, headers: h, agent }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const ms = Number(process.hrtime.bigint() - t0) / 1e6;
          let json = null;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode, json, ms, headers: res.headers });
        });
        res.on("error", () => resolve({ status: 0, json: null, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
      });
      req.on("error", (err) => resolve({ status: 0, json: null, error: err.message, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }
  return { request, agent, close: () => agent.destroy() };
}

/**
 * Closed-loop load: `concurrency` workers each send `next(i)` ({method, path, headers, body})
 * back to back until `durationMs` passed or `total` requests were sent. Latency in ms (exact).
 * CPU per request counts the given pids.
 */
export async function load({ client, concurrency, durationMs, total, next, pids = [], check }) {
  const lat = [];
  const statuses = {};
  let sent = 0;
  let bad = 0;
  const cpu0 = cpuOf(pids);
  const t0 = performance.now();
  const stopAt = durationMs ? t0 + durationMs : Infinity;
  async function worker() {
    while (performance.now() < stopAt && (total === undefined || sent < total)) {
      const i = sent++;
      const spec = next(i);
      const r = await client.request(spec.method ?? "GET", spec.path, spec);
      lat.push(r.ms);
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (check ? !check(r, spec) : r.status < 200 || r.status >= 300) bad++;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallMs = performance.now() - t0;
  const cpu = cpuOf(pids) - cpu0;
  lat.sort((a, b) => a - b);
  return summarize(lat, wallMs, cpu, { statuses, bad });
}

export function summarize(sortedLat, wallMs, cpuSec, extra = {}) {
  return {
    n: sortedLat.length,
    rps: (sortedLat.length * 1000) / wallMs,
    p50: percentile(sortedLat, 50),
    p99: percentile(sortedLat, 99),
    max: sortedLat[sortedLat.length - 1],
    cpuUsPerReq: (cpuSec * 1e6) / Math.max(1, sortedLat.length),
    wallMs,
    ...extra,
  };
}

/** Runs a node one-liner (ES module) in a child process, e.g. with --experimental-wasm-modules. */
export function runNode(args, code, env = {}) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...args, "--input-type=module", "-e", code],
      { env: { ...process.env, ...env }, timeout: 120_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

/** The machine this ran on (for docs/BENCHMARKS.md). */
export function machineInfo({ redisVersion, postgresVersion }) {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? "unknown";
  let nproc = String(cpus().length);
  try {
    nproc = execFileSync("nproc").toString().trim();
  } catch {
    /* keep os.cpus() */
  }
  return {
    nproc,
    cpuModel: model,
    memoryGiB: (totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    redis: redisVersion,
    postgres: postgresVersion,
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    loadavg: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
    date: new Date().toISOString(),
  };
}
