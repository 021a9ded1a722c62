import Redis from "ioredis";
import { DEFAULT_REDIS_URL, tokenUserId } from "@concert/shared";
import { testClock } from "@concert/test-support";
import { call, startGateway, type RunningGateway } from "./helpers";

describe("queue API on real Redis", () => {
  let gw: RunningGateway;
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis(DEFAULT_REDIS_URL);
  });
  afterAll(async () => {
    await redis.quit();
  });
  afterEach(async () => {
    await gw?.close();
  });

  it("when 500 users ask for a token at once, their ranks are exactly 1..500 in the order Redis received them", async () => {
    gw = await startGateway();
    const responses = await Promise.all(
      Array.from({ length: 500 }, (_, i) => call(gw.url, "POST", "/api/users/token", { body: { userId: i + 1 } })),
    );
    expect(responses.every((r) => r.status === 200)).toBe(true);
    const ranks = responses.map((r) => r.body.result.rank).sort((a, b) => a - b);
    expect(ranks).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    // rank order is the arrival-sequence order Redis assigned
    const keys = gw.gateway.store.keys;
    const byRank = [...responses].sort((a, b) => a.body.result.rank - b.body.result.rank);
    // (the waiting set holds user ids; a token carries its user's id)
    const scores = await Promise.all(byRank.map((r) => redis.zscore(keys.waiting, String(tokenUserId(r.body.result.token)))));
    const numbers = scores.map(Number);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(new Set(numbers).size).toBe(500);
  });

  it("when one user asks 50 times at once presenting their token, they get that token and one place", async () => {
    gw = await startGateway();
    await call(gw.url, "POST", "/api/users/token", { body: { userId: 1 } });
    const first = await call(gw.url, "POST", "/api/users/token", { body: { userId: 2 } });
    const headers = { token: first.body.result.token };
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => call(gw.url, "POST", "/api/users/token", { body: { userId: 2 }, headers })),
    );
    expect(responses.every((r) => r.status === 200)).toBe(true);
    const tokens = new Set(responses.map((r) => r.body.result.token));
    expect(tokens.size).toBe(1);
    expect(new Set(responses.map((r) => r.body.result.rank))).toEqual(new Set([2]));
    expect(await redis.zcard(gw.gateway.store.keys.waiting)).toBe(2);
  });

  it("answers rank and an estimated wait of rank ÷ the configured rate before any admission", async () => {
    gw = await startGateway({ QUEUE_ADMIT_BATCH: "5", QUEUE_TICK_MS: "1000" });
    let last = await call(gw.url, "POST", "/api/users/token", { body: { userId: 1 } });
    for (let u = 2; u <= 12; u++) last = await call(gw.url, "POST", "/api/users/token", { body: { userId: u } });
    expect(last.body).toEqual({
      result: { token: expect.any(String), status: "WAITING", rank: 12, estimatedWaitSec: 3, concertId: null },
      error: null,
    });
    const polled = await call(gw.url, "GET", "/api/users/12/token", { headers: { token: last.body.result.token } });
    expect(polled.body.result).toEqual({
      token: last.body.result.token,
      status: "WAITING",
      rank: 12,
      estimatedWaitSec: 3,
      concertId: null,
    });
  });

  it("moves a token from WAITING to IN_PROGRESS on admission, batch by batch, and never beyond max active", async () => {
    const clock = testClock();
    gw = await startGateway({ QUEUE_ADMIT_BATCH: "2", QUEUE_MAX_ACTIVE: "3", QUEUE_TICK_MS: "50" }, { clock });
    const tokens: string[] = [];
    for (let u = 1; u <= 5; u++) tokens.push((await call(gw.url, "POST", "/api/users/token", { body: { userId: u } })).body.result.token);
    const statuses = async () =>
      Promise.all(
        tokens.map(async (t, i) => (await call(gw.url, "GET", `/api/users/${i + 1}/token`, { headers: { token: t } })).body.result),
      );
    await gw.gateway.ticker.runOnce();
    expect((await statuses()).map((s) => s.status)).toEqual(["IN_PROGRESS", "IN_PROGRESS", "WAITING", "WAITING", "WAITING"]);
    clock.advance(50); // the next tick slot
    await gw.gateway.ticker.runOnce();
    const after = await statuses();
    expect(after.map((s) => s.status)).toEqual(["IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "WAITING", "WAITING"]);
    expect(after[0]).toEqual({ token: tokens[0], status: "IN_PROGRESS", rank: null, estimatedWaitSec: 0, concertId: null });
    expect(after.slice(3).map((s) => s.rank)).toEqual([1, 2]);
  });

  it("drops a waiting token that stopped polling (FINISHED) while one that polls keeps its place", async () => {
    const clock = testClock();
    gw = await startGateway({ WAITING_IDLE_TTL_SEC: "1", QUEUE_MAX_ACTIVE: "1", QUEUE_TICK_MS: "10" }, { clock });
    const a = (await call(gw.url, "POST", "/api/users/token", { body: { userId: 1 } })).body.result.token;
    const b = (await call(gw.url, "POST", "/api/users/token", { body: { userId: 2 } })).body.result.token;
    const c = (await call(gw.url, "POST", "/api/users/token", { body: { userId: 3 } })).body.result.token;
    await gw.gateway.ticker.runOnce(); // a admitted; b and c wait
    for (let i = 0; i < 4; i++) {
      clock.advance(300);
      await call(gw.url, "GET", "/api/users/3/token", { headers: { token: c } }); // c keeps polling, b does not
    }
    await gw.gateway.ticker.runOnce();
    expect((await call(gw.url, "GET", "/api/users/2/token", { headers: { token: b } })).body.result).toMatchObject({
      status: "FINISHED",
      rank: null,
    });
    expect((await call(gw.url, "GET", "/api/users/3/token", { headers: { token: c } })).body.result).toMatchObject({
      status: "WAITING",
      rank: 1,
    });
    expect((await call(gw.url, "GET", "/api/users/1/token", { headers: { token: a } })).body.result.status).toBe("IN_PROGRESS");
  });

  describe("refusals change nothing", () => {
    it.each([
      ["a string userId", { userId: "1" }],
      ["a missing userId", {}],
      ["userId 0", { userId: 0 }],
      ["a negative userId", { userId: -3 }],
      ["a fractional userId", { userId: 1.5 }],
      ["a userId beyond 2^31-1", { userId: 2 ** 31 }],
      ["an extra field", { userId: 1, admin: true }],
      ["an array body", [1]],
    ])("POST /api/users/token with %s → 400 VALIDATION_FAILED", async (_name, body) => {
      gw = await startGateway();
      const r = await call(gw.url, "POST", "/api/users/token", { body });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ result: null, error: { code: "VALIDATION_FAILED" } });
      expect(await redis.zcard(gw.gateway.store.keys.waiting)).toBe(0);
      expect(await redis.get(gw.gateway.store.keys.seq)).toBeNull();
    });

    it("malformed JSON → 400 with the envelope, no stack trace", async () => {
      gw = await startGateway();
      const r = await call(gw.url, "POST", "/api/users/token", {
        rawBody: '{"userId": 1',
        headers: { "content-type": "application/json" },
      });
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ result: null, error: { code: "VALIDATION_FAILED", message: "Request body is not valid JSON" } });
      expect(await redis.zcard(gw.gateway.store.keys.waiting)).toBe(0);
    });

    it("a body over 16 kB → 413 PAYLOAD_TOO_LARGE", async () => {
      gw = await startGateway();
      const r = await call(gw.url, "POST", "/api/users/token", { body: { userId: 1, pad: "x".repeat(20_000) } });
      expect(r.status).toBe(413);
      expect(r.body.error.code).toBe("PAYLOAD_TOO_LARGE");
    });

    it("polls without a token, with a malformed or unknown token → 401 TOKEN_INVALID; another user's token → 403", async () => {
      gw = await startGateway();
      const mine = (await call(gw.url, "POST", "/api/users/token", { body: { userId: 1 } })).body.result.token;
      const cases: [Record<string, string>, number, string][] = [
        [{}, 401, "TOKEN_INVALID"],
        [{ token: "not-a-uuid" }, 401, "TOKEN_INVALID"],
        [{ token: "6f1c3b1e-8d7a-4a3c-9d2e-1f0a9b8c7d6e" }, 401, "TOKEN_INVALID"],
      ];
      for (const [headers, status, code] of cases) {
        const r = await call(gw.url, "GET", "/api/users/1/token", { headers });
        expect([r.status, r.body.error?.code]).toEqual([status, code]);
      }
      const foreign = await call(gw.url, "GET", "/api/users/2/token", { headers: { token: mine } });
      expect([foreign.status, foreign.body.error.code]).toEqual([403, "TOKEN_USER_MISMATCH"]);
      const badPath = await call(gw.url, "GET", "/api/users/abc/token", { headers: { token: mine } });
      expect([badPath.status, badPath.body.error.code]).toEqual([400, "VALIDATION_FAILED"]);
      expect(await redis.zcard(gw.gateway.store.keys.waiting)).toBe(1);
    });

    it("an unknown route → 404 in the envelope", async () => {
      gw = await startGateway();
      const r = await call(gw.url, "GET", "/api/nope");
      expect(r.status).toBe(404);
      expect(r.body).toMatchObject({ result: null, error: { code: "NOT_FOUND" } });
    });
  });
});
