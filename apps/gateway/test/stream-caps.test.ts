import { get, type ClientRequest, type IncomingHttpHeaders } from "node:http";
import { until } from "@concert/test-support";
import { openFilesLimit, streamCap } from "../src/queue/queue-streams";
import { call, startGateway, type RunningGateway } from "./helpers";

interface Opened {
  status: number;
  headers: IncomingHttpHeaders;
  /** the JSON answer of a refusal (null for a stream) */
  body: any;
  close(): void;
}

/** Opens `GET url` and resolves at the answer's headers (a stream stays open until close()). */
function open(url: string, headers: Record<string, string> = {}): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const req: ClientRequest = get(url, { headers, agent: false }, (res) => {
      const close = () => req.destroy();
      if ((res.headers["content-type"] ?? "").startsWith("text/event-stream")) {
        res.resume();
        resolve({ status: res.statusCode!, headers: res.headers, body: null, close });
        return;
      }
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text), close }));
    });
    req.on("error", reject);
  });
}

const tally = (all: Opened[]) => {
  const by: Record<string, number> = {};
  for (const o of all) by[o.body?.error?.code ?? o.status] = (by[o.body?.error?.code ?? o.status] ?? 0) + 1;
  return by;
};

describe("stream caps of GET /api/queue/stream", () => {
  let gw: RunningGateway;
  const opened: Opened[] = [];
  beforeAll(async () => {
    gw = await startGateway({ SSE_MAX_PER_TOKEN: "2", SSE_MAX_PER_CLIENT: "5", SSE_MAX_STREAMS: "1000", TRUST_PROXY: "true" });
  });
  afterEach(() => {
    for (const o of opened.splice(0)) o.close();
    return until(
      async () => gw.gateway.streams.size,
      (n) => n === 0,
    );
  });
  afterAll(() => gw.close());

  const join = async (userId: number) => (await call(gw.url, "POST", "/api/users/token", { body: { userId } })).body.result.token as string;
  const streamOf = (userId: number, token: string, from: string) =>
    open(`${gw.url}/api/queue/stream?userId=${userId}&token=${token}`, { "x-forwarded-for": from }).then((o) => {
      opened.push(o);
      return o;
    });

  it("when 10 streams of one token open at once, exactly the per-token cap opens and the rest get 429 before any stream starts", async () => {
    const token = await join(501);
    const all = await Promise.all(Array.from({ length: 10 }, (_, i) => streamOf(501, token, `10.1.0.${i}`)));
    expect(tally(all)).toEqual({ 200: 2, RATE_LIMITED: 8 });
    const refused = all.find((o) => o.status === 429)!;
    expect(refused.headers["content-type"]).toMatch(/^application\/json/);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(refused.body.error.message).toMatch(/2 open streams per queue token/);
    expect(gw.gateway.streams.size).toBe(2);
    const metrics = await call(gw.url, "GET", "/metrics");
    expect(metrics.body).toMatch(/queue_sse_refused_total\{[^}]*cap="token"[^}]*\} 8/);
  });

  it("frees a token's slot when its stream closes", async () => {
    const token = await join(502);
    const [a] = await Promise.all([streamOf(502, token, "10.2.0.1"), streamOf(502, token, "10.2.0.2")]);
    expect((await streamOf(502, token, "10.2.0.3")).status).toBe(429);
    a.close();
    await until(
      async () => gw.gateway.streams.size,
      (n) => n === 1,
    );
    expect((await streamOf(502, token, "10.2.0.4")).status).toBe(200);
  });

  it("frees the slots of streams the server ended (the token was admitted)", async () => {
    const token = await join(503);
    const [a, b] = await Promise.all([streamOf(503, token, "10.5.0.1"), streamOf(503, token, "10.5.0.2")]);
    expect([a.status, b.status]).toEqual([200, 200]);
    await gw.gateway.ticker.runOnce(); // admits 503 (the queue's only waiting user), so both streams end
    await until(
      async () => gw.gateway.streams.size,
      (n) => n === 0,
    );
    expect((await streamOf(503, token, "10.5.0.3")).status).toBe(200);
  });

  it("caps the streams of one client address (as TRUST_PROXY resolves it) across tokens, and counts other addresses apart", async () => {
    const users = Array.from({ length: 8 }, (_, i) => 600 + i);
    const tokens = await Promise.all(users.map(join));
    const same = await Promise.all(users.map((u, i) => streamOf(u, tokens[i], "10.3.0.1")));
    expect(tally(same)).toEqual({ 200: 5, RATE_LIMITED: 3 });
    expect(same.find((o) => o.status === 429)!.body.error.message).toMatch(/5 open streams per client/);
    const refusedUser = users[same.findIndex((o) => o.status === 429)];
    const other = await streamOf(refusedUser, tokens[users.indexOf(refusedUser)], "10.3.0.2");
    expect(other.status).toBe(200);
  });

  it("takes no slot for a refused token check (401), so bad tokens cannot fill a client's cap", async () => {
    for (let i = 0; i < 8; i++) {
      const bad = await streamOf(700, "3f1e4b52-9c7a-4c1e-9a51-0d2b7e7a1c11", "10.4.0.1");
      expect(bad.status).toBe(401);
    }
    const token = await join(700);
    expect((await streamOf(700, token, "10.4.0.1")).status).toBe(200);
  });
});

describe("the instance-wide stream cap", () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({ SSE_MAX_STREAMS: "3", SSE_FD_RESERVE: "0" });
  });
  afterAll(() => gw.close());

  it("answers 503 SERVICE_UNAVAILABLE with Retry-After beyond it, and /health still answers", async () => {
    const users = Array.from({ length: 6 }, (_, i) => 800 + i);
    const tokens: string[] = [];
    for (const u of users) tokens.push((await call(gw.url, "POST", "/api/users/token", { body: { userId: u } })).body.result.token);
    const all = await Promise.all(users.map((u, i) => open(`${gw.url}/api/queue/stream?userId=${u}&token=${tokens[i]}`)));
    try {
      expect(tally(all)).toEqual({ 200: 3, SERVICE_UNAVAILABLE: 3 });
      const refused = all.find((o) => o.status === 503)!;
      expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      expect((await call(gw.url, "GET", "/health")).status).toBe(200);
      const metrics = (await call(gw.url, "GET", "/metrics")).body as string;
      expect(metrics).toMatch(/queue_sse_refused_total\{[^}]*cap="instance"[^}]*\} 3/);
      expect(metrics).not.toMatch(/dependency_errors_total\{[^}]*\} [1-9]/); // a full instance is not a dependency down
    } finally {
      all.forEach((o) => o.close());
    }
  });
});

describe("streamCap: the instance cap keeps descriptors in reserve", () => {
  const limits = (soft: string) =>
    `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                524288               files\n`;

  it("reads the soft open-files limit, or null where there is none", () => {
    expect(openFilesLimit(() => limits("20000"))).toBe(20_000);
    expect(openFilesLimit(() => "Max processes 100 100 processes\n")).toBeNull();
    expect(
      openFilesLimit(() => {
        throw new Error("ENOENT");
      }),
    ).toBeNull();
  });

  it("is the configured cap, lowered to the limit minus the reserve, never below 0", () => {
    expect(streamCap(10_000, 1_024, 20_000)).toBe(10_000);
    expect(streamCap(10_000, 1_024, 4_096)).toBe(3_072);
    expect(streamCap(10_000, 1_024, 1_000)).toBe(0);
    expect(streamCap(10_000, 1_024, null)).toBe(10_000);
  });
});
