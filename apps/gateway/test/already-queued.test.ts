import { gzipSync } from "node:zlib";
import Redis from "ioredis";
import { httpCall } from "@concert/test-support";
import { DEFAULT_REDIS_URL, newQueueToken, type QueueKeys } from "@concert/shared";
import { call, startGateway, uniqueName, type RunningGateway } from "./helpers";

/**
 * Asking again for a user's token (POST /api/users/token) on real Redis: the live token goes back
 * only to a caller presenting it in the `token` header; whoever only names the user gets 409
 * ALREADY_QUEUED without it, and nothing changes.
 */
describe("issue for a user who already holds a live token", () => {
  const redis = new Redis(DEFAULT_REDIS_URL);
  let gw: RunningGateway;
  afterEach(async () => {
    await gw?.close();
  });
  afterAll(() => redis.quit());

  const issue = (url: string, userId: number, headers: Record<string, string> = {}) =>
    call(url, "POST", "/api/users/token", { body: { userId }, headers });
  /** The same issue in a form the hot path leaves to Express (a gzipped body). */
  const issueViaExpress = async (url: string, userId: number, headers: Record<string, string> = {}) =>
    httpCall(url, "POST", "/api/users/token", {
      raw: gzipSync(JSON.stringify({ userId })),
      headers: { "content-type": "application/json", "content-encoding": "gzip", ...headers },
    });

  /** Everything an issue may write (the order, heartbeats, live tokens, the arrival counter), byte for byte. */
  const queueState = (keys: QueueKeys) =>
    Promise.all([keys.waiting, keys.seen, keys.active, keys.users, keys.seq].map((k) => redis.dumpBuffer(k)));

  it.each([
    ["hot path", issue],
    ["Express", issueViaExpress],
  ])("refuses it with 409 ALREADY_QUEUED and no token to a caller without it, changing nothing (%s)", async (_form, ask) => {
    gw = await startGateway();
    const mine = await issue(gw.url, 41);
    const other = await issue(gw.url, 42);
    const before = await queueState(gw.gateway.store.keys);
    const refusals = [
      await ask(gw.url, 41),
      await ask(gw.url, 41, { token: other.body.result.token }), // another user's live token
      await ask(gw.url, 41, { token: newQueueToken(41) }), // a token of the right shape that is not the live one
      await ask(gw.url, 41, { token: "not-a-uuid" }), // malformed: no proof, like none
    ];
    for (const r of refusals) {
      expect(r.status).toBe(409);
      expect(r.body).toEqual({ result: null, error: { code: "ALREADY_QUEUED", message: expect.stringContaining("WAITING_IDLE_TTL_SEC") } });
      expect(JSON.stringify(r.body)).not.toContain(mine.body.result.token);
    }
    expect(await queueState(gw.gateway.store.keys)).toEqual(before);
  });

  it.each([
    ["hot path", issue],
    ["Express", issueViaExpress],
  ])("gives the same token and rank to a caller presenting it, in any letter case (%s)", async (_form, ask) => {
    gw = await startGateway();
    await issue(gw.url, 51);
    const mine = await issue(gw.url, 52);
    const again = await ask(gw.url, 52, { token: mine.body.result.token.toUpperCase() });
    expect(again.status).toBe(200);
    expect(again.body.result).toMatchObject({ token: mine.body.result.token, status: "WAITING", rank: 2 });
  });

  it("gives an admitted user's token back only to a caller presenting it", async () => {
    gw = await startGateway();
    const mine = await issue(gw.url, 61);
    await gw.gateway.ticker.runOnce();
    expect((await issue(gw.url, 61)).body.error.code).toBe("ALREADY_QUEUED");
    const again = await issue(gw.url, 61, { token: mine.body.result.token });
    expect(again.body.result).toEqual({
      token: mine.body.result.token,
      status: "IN_PROGRESS",
      rank: null,
      estimatedWaitSec: 0,
      concertId: null,
    });
  });

  it("gives a user whose token finished a new place at the back, without proof", async () => {
    gw = await startGateway();
    const old = await issue(gw.url, 71);
    await issue(gw.url, 72);
    await gw.gateway.store.finish(old.body.result.token, "paid");
    const again = await issue(gw.url, 71);
    expect(again.status).toBe(200);
    expect(again.body.result).toMatchObject({ status: "WAITING", rank: 2 });
    expect(again.body.result.token).not.toBe(old.body.result.token);
  });

  it("when 20 issues for one new user arrive at once through two gateways, exactly one place is made and one answer has the token", async () => {
    const name = uniqueName("requeue");
    gw = await startGateway({ QUEUE_NAME: name });
    const second = await startGateway({ QUEUE_NAME: name });
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => issue(i % 2 ? second.url : gw.url, 81)));
      const granted = answers.filter((r) => r.status === 200);
      expect(granted).toHaveLength(1);
      expect(answers.filter((r) => r.status === 409 && r.body.error.code === "ALREADY_QUEUED")).toHaveLength(19);
      const keys = gw.gateway.store.keys;
      expect(await redis.zrange(keys.waiting, 0, -1)).toEqual(["81"]);
      expect(await redis.hgetall(keys.users)).toEqual({ "81": granted[0].body.result.token });

      // and the holder presenting it, 20 times at once through both: all 200, the same token, still one place
      const headers = { token: granted[0].body.result.token };
      const resumed = await Promise.all(Array.from({ length: 20 }, (_, i) => issue(i % 2 ? second.url : gw.url, 81, headers)));
      expect(resumed.map((r) => [r.status, r.body.result.token, r.body.result.rank])).toEqual(
        Array.from({ length: 20 }, () => [200, headers.token, 1]),
      );
      expect(await redis.zcard(keys.waiting)).toBe(1);
    } finally {
      await second.close();
    }
  });
});
