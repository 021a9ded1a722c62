import { randomBytes } from "node:crypto";
import { verifyLottery, type LotteryRecord } from "@concert/shared";
import { call, sleep } from "./support/client";
import { pool } from "./support/flows";
import { report, startSystem, type System } from "./support/harness";
import { operator } from "./support/operator";
import { timeUntil } from "./support/scenario";

/** Pearson correlation of two equally long series. */
function correlation(xs: number[], ys: number[]): number {
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

// Issue 14, the scheduled opening: 1,000 users pre-queued through two gateways (real processes)
// get distinct ranks 1..1000 at the opening, in an order unrelated to their arrival, drawn once
// with a record an auditor can re-check; later arrivals queue FIFO behind; the close ends it.
describe("system: scheduled opening and its lottery", () => {
  const adminToken = randomBytes(16).toString("hex");
  let sys: System;
  const gw = (i = 0) => sys.gateways[i % sys.gateways.length].url;
  const { admin, createConcert } = operator(() => sys, adminToken);
  const concert = async (room: Record<string, unknown>) => (await createConcert({ name: "On-sale", room })).concertId;

  beforeAll(async () => {
    sys = await startSystem({ tag: "lottery", bookings: 1, gateways: 2, gatewayEnv: { ADMIN_TOKEN: adminToken, QUEUE_TICK_MS: "200" } });
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
  }, 60_000);

  it("before its pre-queue window a room refuses 409 SALE_NOT_OPEN with opensAt", async () => {
    const opensAt = new Date(Date.now() + 3_600_000).toISOString();
    const concertId = await concert({ saleOpensAt: opensAt, prequeueSec: 60 });
    const r = await call(gw(1), "POST", "/api/users/token", { body: { userId: sys.userIds(1)[0], concertId } });
    expect([r.status, r.body.error.code, r.body.error.details.opensAt]).toEqual([409, "SALE_NOT_OPEN", new Date(opensAt).toISOString()]);
    expect(await sys.redis.exists(`{q:${sys.queueName}:c${concertId}}:pre`)).toBe(0);
  });

  it("1,000 pre-queued through two gateways get distinct ranks 1..1000 at the opening, uncorrelated with arrival; later arrivals rank behind", async () => {
    const opensAtMs = Date.now() + 12_000;
    const concertId = await concert({ saleOpensAt: new Date(opensAtMs).toISOString(), prequeueSec: 600, batch: 100 });
    const users = sys.userIds(1000);
    // arrival order = the order the issues were answered in
    const arrival: number[] = [];
    const tokens = new Map<number, string>();
    await pool(users, 40, async (u, i) => {
      const r = await call(gw(i), "POST", "/api/users/token", { body: { userId: u, concertId } });
      expect(r.status).toBe(200);
      expect(r.body.result).toMatchObject({ status: "WAITING", rank: null, concertId, opensAt: new Date(opensAtMs).toISOString() });
      arrival.push(u);
      tokens.set(u, r.body.result.token);
    });
    expect(Date.now()).toBeLessThan(opensAtMs - 1000); // all in the pre-queue, not after the opening
    const one = await call(gw(1), "GET", `/api/users/${users[0]}/token`, { token: tokens.get(users[0]) });
    expect(one.body.result).toMatchObject({ status: "WAITING", rank: null, prequeueCount: 1000 });
    // hold admission so that every rank can be read after the draw
    expect((await admin("POST", `/admin/rooms/${concertId}/pause`)).status).toBe(200);

    await sleep(Math.max(0, opensAtMs - Date.now()) + 200);
    await timeUntil(async () => (await admin("GET", `/admin/rooms/${concertId}`)).body.result.lottery !== null, 10_000);
    const later = sys.userIds(20);
    const laterRanks: number[] = [];
    for (const [i, u] of later.entries()) {
      const r = await call(gw(i), "POST", "/api/users/token", { body: { userId: u, concertId } });
      laterRanks.push(r.body.result.rank);
    }
    expect(laterRanks).toEqual(Array.from({ length: 20 }, (_, i) => 1001 + i));

    const rankOf = new Map<number, number>();
    await pool(arrival, 40, async (u, i) => {
      const r = await call(gw(i), "GET", `/api/users/${u}/token`, { token: tokens.get(u) });
      expect(r.body.result.status).toBe("WAITING");
      rankOf.set(u, r.body.result.rank);
    });
    const ranks = arrival.map((u) => rankOf.get(u)!);
    expect([...ranks].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    const r = correlation(
      arrival.map((_, i) => i),
      ranks,
    );
    // for 1,000 independent ranks |r| has a standard deviation of about 0.032
    expect(Math.abs(r)).toBeLessThan(0.12);

    // the draw was made once, and its record re-derives exactly this order
    const view = (await admin("GET", `/admin/rooms/${concertId}`)).body.result;
    const record = view.lottery as LotteryRecord;
    expect(record.participants).toBe(1000);
    const order = [...rankOf].sort((a, b) => a[1] - b[1]).map(([u]) => u);
    expect(verifyLottery(record, order)).toBe(true);
    expect(await sys.redis.hget(`{q:${sys.queueName}:c${concertId}}:draw`, "moved")).toBe("1000");
    report(`lottery: 1000 pre-queued via 2 gateways -> ranks 1..1000, rank/arrival r = ${r.toFixed(3)}, drawn by ${record.drawnBy}`);

    // admission then goes in drawn order
    expect((await admin("POST", `/admin/rooms/${concertId}/resume`)).status).toBe(200);
    const first = order[0];
    await timeUntil(
      async () => (await call(gw(), "GET", `/api/users/${first}/token`, { token: tokens.get(first) })).body.result.status === "IN_PROGRESS",
      5_000,
    );
  }, 90_000);

  it("after saleClosesAt new arrivals get 409 SALE_CLOSED and the waiting are FINISHED with reason CLOSED", async () => {
    const closesAt = Date.now() + 4_000;
    const concertId = await concert({
      saleOpensAt: new Date(Date.now() - 1000).toISOString(),
      saleClosesAt: new Date(closesAt).toISOString(),
    });
    expect((await admin("POST", `/admin/rooms/${concertId}/pause`)).status).toBe(200);
    const [u, v] = sys.userIds(2);
    const mine = await call(gw(), "POST", "/api/users/token", { body: { userId: u, concertId } });
    expect(mine.body.result).toMatchObject({ status: "WAITING", rank: 1 });
    await sleep(Math.max(0, closesAt - Date.now()) + 100);
    const refused = await call(gw(1), "POST", "/api/users/token", { body: { userId: v, concertId } });
    expect([refused.status, refused.body.error.code]).toEqual([409, "SALE_CLOSED"]);
    await timeUntil(
      async () => (await call(gw(1), "GET", `/api/users/${u}/token`, { token: mine.body.result.token })).body.result.status === "FINISHED",
      5_000,
    );
    const polled = await call(gw(), "GET", `/api/users/${u}/token`, { token: mine.body.result.token });
    expect(polled.body.result).toMatchObject({ status: "FINISHED", reason: "CLOSED", concertId });
  }, 30_000);
});
