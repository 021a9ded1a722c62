import Redis from "ioredis";
import { DEFAULT_REDIS_URL } from "@concert/shared";
import { sleep, testClock } from "@concert/test-support";
import { call, startGateway, uniqueName, type RunningGateway } from "./helpers";

interface SseEvent {
  event: string;
  data: any;
}

/** A tiny Server-Sent Events client over fetch: frames come out in order through next(). */
async function openStream(url: string): Promise<{
  status: number;
  headers: Headers;
  body: any;
  next(ms?: number): Promise<SseEvent | null>;
  comments: string[];
  close(): void;
}> {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal });
  if (!(res.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    return { status: res.status, headers: res.headers, body: await res.json(), next: async () => null, comments: [], close: () => {} };
  }
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const queue: (SseEvent | null)[] = [];
  const comments: string[] = [];
  const wake = { waiter: null as (() => void) | null };
  let buffer = "";
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let at: number;
        while ((at = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          let event = "message";
          const data: string[] = [];
          for (const line of frame.split("\n")) {
            if (line.startsWith(":")) comments.push(line);
            else if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          if (data.length) queue.push({ event, data: JSON.parse(data.join("\n")) });
          wake.waiter?.();
        }
      }
    } catch {
      /* aborted */
    }
    queue.push(null); // end of stream
    wake.waiter?.();
  })();
  return {
    status: res.status,
    headers: res.headers,
    body: null,
    comments,
    async next(ms = 3000) {
      const deadline = Date.now() + ms;
      while (queue.length === 0) {
        if (Date.now() > deadline) throw new Error("no event within the deadline");
        await new Promise<void>((r) => {
          wake.waiter = r;
          setTimeout(r, 50);
        });
        wake.waiter = null;
      }
      return queue.shift()!;
    },
    close: () => controller.abort(),
  };
}

describe("GET /api/queue/stream (Server-Sent Events)", () => {
  let gw: RunningGateway;
  const tickMs = 20;
  const clock = testClock();
  beforeAll(async () => {
    // no ticker: the tests run ticks by hand with runOnce
    gw = await startGateway({ QUEUE_TICK_MS: String(tickMs), QUEUE_ADMIT_BATCH: "1" }, { clock });
  });
  afterAll(() => gw.close());

  const join = async (userId: number) => (await call(gw.url, "POST", "/api/users/token", { body: { userId } })).body.result;
  /** One admission tick that runs (a fresh slot). */
  const tick = async () => {
    clock.advance(tickMs);
    const r = await gw.gateway.ticker.runOnce();
    if (!r?.ran) throw new Error("the tick did not run");
  };

  it("refuses bad input like the poll route: 400 for the user id, 401 for the token, 403 for another user's token", async () => {
    const me = await join(101);
    const cases: [string, number, string][] = [
      [`/api/queue/stream?userId=abc&token=${me.token}`, 400, "VALIDATION_FAILED"],
      [`/api/queue/stream?token=${me.token}`, 400, "VALIDATION_FAILED"],
      [`/api/queue/stream?userId=101&token=${me.token}&extra=1`, 400, "VALIDATION_FAILED"],
      [`/api/queue/stream?userId=101&token=a&token=b`, 400, "VALIDATION_FAILED"],
      ["/api/queue/stream?userId=101", 401, "TOKEN_INVALID"],
      ["/api/queue/stream?userId=101&token=not-a-uuid", 401, "TOKEN_INVALID"],
      ["/api/queue/stream?userId=101&token=3f1e4b52-9c7a-4c1e-9a51-0d2b7e7a1c11", 401, "TOKEN_INVALID"],
      [`/api/queue/stream?userId=102&token=${me.token}`, 403, "TOKEN_USER_MISMATCH"],
    ];
    for (const [path, status, code] of cases) {
      const s = await openStream(gw.url + path);
      expect([path, s.status, s.body?.error?.code]).toEqual([path, status, code]);
    }
  });

  it("sends the current view at once, then each change after a tick, then IN_PROGRESS and ends", async () => {
    const ahead = await join(201);
    const me = await join(202);
    expect(me.rank).toBe(ahead.rank + 1);
    const s = await openStream(`${gw.url}/api/queue/stream?userId=202&token=${me.token}`);
    expect(s.status).toBe(200);
    expect(s.headers.get("cache-control")).toContain("no-cache");
    const first = await s.next();
    expect(first).toEqual({
      event: "message",
      data: { status: "WAITING", rank: me.rank, estimatedWaitSec: expect.any(Number), concertId: null },
    });

    // admit everyone ahead, one per tick; every frame is a change and ranks only fall
    const ranks = [first!.data.rank];
    for (;;) {
      await tick();
      const e = await s.next();
      expect(e!.event).toBe("message");
      if (e!.data.status !== "WAITING") {
        expect(e!.data).toEqual({ status: "IN_PROGRESS", rank: null, estimatedWaitSec: 0, concertId: null });
        break;
      }
      expect(e!.data.rank).toBeLessThan(ranks[ranks.length - 1]);
      ranks.push(e!.data.rank);
    }
    expect(ranks[ranks.length - 1]).toBe(1);
    expect(await s.next()).toBeNull(); // the server ended the stream after admission
    expect(gw.gateway.streams.size).toBe(0);
  });

  it("fans one tick out to every open stream of the instance with one recompute, not one Redis poll loop per client", async () => {
    const users = Array.from({ length: 30 }, (_, i) => 300 + i);
    const views: { token: string }[] = [];
    for (const u of users) views.push(await join(u));
    const streams = await Promise.all(users.map((u, i) => openStream(`${gw.url}/api/queue/stream?userId=${u}&token=${views[i].token}`)));
    const firsts = await Promise.all(streams.map((s) => s.next()));
    expect(gw.gateway.streams.size).toBe(30);

    const before = { ...gw.gateway.streams.stats };
    await sleep(300); // no tick: nothing is recomputed, nothing sent
    expect(gw.gateway.streams.stats.refreshes).toBe(before.refreshes);

    await tick();
    const seconds = await Promise.all(streams.map((s) => s.next()));
    expect(gw.gateway.streams.stats.refreshes).toBe(before.refreshes + 1);
    expect(gw.gateway.streams.stats.recomputed).toBe(before.recomputed + 30);
    // the head was admitted (and its stream ended); everyone else moved up by one
    expect(seconds[0]!.data.status).toBe("IN_PROGRESS");
    for (let i = 1; i < users.length; i++) expect(seconds[i]!.data.rank).toBe(firsts[i]!.data.rank - 1);
    streams.forEach((s) => s.close());
    await sleep(50);
    expect(gw.gateway.streams.size).toBe(0);
  });

  it("tells a stream whose token went bad why, then ends it", async () => {
    const me = await join(401);
    const s = await openStream(`${gw.url}/api/queue/stream?userId=401&token=${me.token}`);
    await s.next();
    const redis = new Redis(DEFAULT_REDIS_URL);
    try {
      // as if Redis lost it: a waiting token lives in the user's users/waiting/seen entries, an admitted one in t:<token>
      const k = gw.gateway.store.keys;
      await redis.multi().hdel(k.users, "401").zrem(k.waiting, "401").zrem(k.seen, "401").del(`${k.prefix}t:${me.token}`).exec();
    } finally {
      await redis.quit();
    }
    await gw.gateway.streams.refresh();
    expect(await s.next()).toEqual({ event: "refused", data: { code: "TOKEN_INVALID", message: expect.any(String) } });
    expect(await s.next()).toBeNull();
  });
});

describe("two gateway instances on one queue", () => {
  it("a tick run by one instance reaches the streams of the other through one PUBLISH", async () => {
    const name = uniqueName("sse");
    const tickMs = 20;
    const env = { QUEUE_NAME: name, QUEUE_TICK_MS: String(tickMs), QUEUE_ADMIT_BATCH: "1" };
    const clock = testClock();
    const [a, b] = await Promise.all([startGateway(env, { clock }), startGateway(env, { clock })]);
    const listener = new Redis(DEFAULT_REDIS_URL);
    const published: string[] = [];
    try {
      await listener.subscribe(`{q:${name}}:ticks`);
      listener.on("message", (_ch, m) => published.push(m));
      const first = (await call(a.url, "POST", "/api/users/token", { body: { userId: 1 } })).body.result;
      const second = (await call(a.url, "POST", "/api/users/token", { body: { userId: 2 } })).body.result;
      const s = await openStream(`${b.url}/api/queue/stream?userId=2&token=${second.token}`);
      expect((await s.next())!.data.rank).toBe(2);

      clock.advance(tickMs);
      expect((await a.gateway.ticker.runOnce())!.ran).toBe(true); // only instance A ticks
      expect((await s.next())!.data).toEqual({ status: "WAITING", rank: 1, estimatedWaitSec: expect.any(Number), concertId: null });
      expect(published).toHaveLength(1);
      expect(JSON.parse(published[0])).toEqual({ admitted: 1, expired: 0, evicted: 0 });
      expect(first.rank).toBe(1);
      s.close();
    } finally {
      await listener.quit();
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe("the waiting-room page", () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw.close());

  it("is served at / from apps/web/dist, and API routes keep priority", async () => {
    const page = await fetch(`${gw.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    expect(html).toContain("Waiting room");
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1];
    const js = await fetch(gw.url + asset);
    expect(js.status).toBe(200);
    expect(js.headers.get("cache-control")).toContain("immutable");

    expect((await call(gw.url, "GET", "/health")).body.result.status).toBe("ok");
    const unknown = await call(gw.url, "GET", "/api/nope");
    expect([unknown.status, unknown.body.error.code]).toEqual([404, "NOT_FOUND"]);
  });
});
