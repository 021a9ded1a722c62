import { httpCall, sleep } from "@concert/test-support";
import { Pool } from "undici";

export interface Reply {
  status: number; // 0 = no answer (connection refused / reset)
  body: any;
  headers: Record<string, string | string[] | undefined>;
  error?: string;
  ms: number;
}

const pools = new Map<string, Pool>();
function pool(origin: string): Pool {
  let p = pools.get(origin);
  if (!p) {
    p = new Pool(origin, { connections: 48, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000, connectTimeout: 3_000 });
    pools.set(origin, p);
  }
  return p;
}

export async function closeClients(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.destroy().catch(() => {})));
}

/** Counts answers by status class, so each scenario can report and assert on them. */
export class Tally {
  total = 0;
  byStatus: Record<string, number> = {};
  fiveXX: { status: number; path: string; body: any; retryAfter?: string }[] = [];
  latency: Record<string, { n: number; ms: number; max: number }> = {};
  add(r: Reply, path: string): void {
    this.total++;
    const kind = path.replace(/\d+/g, ":n");
    const l = (this.latency[kind] ??= { n: 0, ms: 0, max: 0 });
    l.n++;
    l.ms += r.ms;
    l.max = Math.max(l.max, r.ms);
    const k = String(r.status);
    this.byStatus[k] = (this.byStatus[k] ?? 0) + 1;
    if (r.status >= 500)
      this.fiveXX.push({ status: r.status, path, body: r.body, retryAfter: r.headers["retry-after"] as string | undefined });
  }
  count(pred: (status: number) => boolean): number {
    return Object.entries(this.byStatus).reduce((n, [s, c]) => (pred(Number(s)) ? n + c : n), 0);
  }
  latencies(): string {
    return Object.entries(this.latency)
      .map(([k, l]) => `${k} n=${l.n} avg=${Math.round(l.ms / l.n)}ms max=${l.max}ms`)
      .join("; ");
  }
  summary(): string {
    return Object.entries(this.byStatus)
      .sort()
      .map(([s, c]) => `${s === "0" ? "noanswer" : s}:${c}`)
      .join(" ");
  }
}

export interface CallOptions {
  body?: unknown;
  raw?: string | Buffer;
  headers?: Record<string, string>;
  token?: string;
  tally?: Tally;
}

/** One HTTP request; the JSON envelope parsed when there is one. Never throws. */
export async function call(base: string, method: string, path: string, o: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token) headers.token = o.token;
  const started = Date.now();
  let reply: Reply;
  try {
    const r = await httpCall(base, method, path, { body: o.body, raw: o.raw, headers, dispatcher: pool(base) });
    reply = { status: r.status, body: r.body, headers: r.headers, ms: Date.now() - started };
  } catch (err) {
    reply = {
      status: 0,
      body: null,
      headers: {},
      error: (err as { code?: string }).code ?? (err as Error).message,
      ms: Date.now() - started,
    };
  }
  o.tally?.add(reply, path);
  return reply;
}

export { sleep };

/** Seconds from Retry-After as milliseconds, capped so tests stay quick. */
export function retryAfterMs(r: Reply, cap = 500): number {
  const v = Number(r.headers["retry-after"]);
  return Math.min(cap, Number.isFinite(v) && v > 0 ? v * 1000 : 200);
}

/** True when the body is the error envelope `{ result: null, error: { code, message } }`. */
export function isErrorEnvelope(body: any): boolean {
  return (
    !!body &&
    typeof body === "object" &&
    body.result === null &&
    !!body.error &&
    typeof body.error.code === "string" &&
    typeof body.error.message === "string"
  );
}
