import { randomUUID } from "node:crypto";
import { PASSPORT_HEADER, seatGateKeys, seatGatePrefix } from "@concert/shared";
import { signPassportFor } from "@concert/test-support";
import type { PoolClient } from "pg";
import { call, sleep } from "./support/client";
import { report, startSystem, type System } from "./support/harness";
import { admitUsers } from "./support/scenario";

// Issue 12 items 3, 5 and 6: what one client could still do with holds.
const MAX_HOLDS_PER_CLIENT = 8;
const HOLD_RATE_LIMIT = 60;
const BOOKING_TIMEOUT_MS = 1_500;

describe("system: hardening of holds", () => {
  let sys: System;
  let gw: string[];
  let booking: string;
  /** holds this address made through the gateways in earlier scenarios, still live */
  let earlierHolds = 0;
  beforeAll(async () => {
    sys = await startSystem({
      tag: "hardening_holds",
      gateways: 2,
      gatewayEnv: {
        BOOKING_TIMEOUT_MS: String(BOOKING_TIMEOUT_MS),
        MAX_HOLDS_PER_CLIENT: String(MAX_HOLDS_PER_CLIENT),
        HOLD_RATE_LIMIT: String(HOLD_RATE_LIMIT),
        HOLD_RATE_WINDOW_SEC: "600",
      },
    });
    gw = sys.gateways.map((g) => g.url);
    booking = sys.bookings[0].url;
  }, 90_000);
  afterAll(() => sys?.stop(), 60_000);

  /** A row lock on seats of a performance, held by a transaction of the test until released. */
  async function lockSeats(detailId: number, seatNos: number[]): Promise<() => Promise<void>> {
    const client: PoolClient = await sys.db.pool.connect();
    await client.query("BEGIN");
    await client.query("SELECT id FROM seat WHERE concert_detail_id = $1 AND seat_no = ANY($2::int[]) FOR UPDATE", [detailId, seatNos]);
    return async () => {
      await client.query("COMMIT");
      client.release();
    };
  }

  const liveHolds = async (userIds: number[]) =>
    Number(
      (
        await sys.db.pool.query<{ n: string }>(
          "SELECT count(*) AS n FROM reservation WHERE user_id = ANY($1::int[]) AND status = 'HELD' AND expires_at > now()",
          [userIds],
        )
      ).rows[0].n,
    );

  it("5. holds answered 503 because booking was stuck past the gateway's timeout never commit later; a keyed retry gets its hold", async () => {
    const {
      detailIds: [detail],
    } = await sys.concert(1);
    const users = sys.userIds(6);
    const tokens = await admitUsers(gw[0], users);
    const release = await lockSeats(
      detail,
      users.map((_, i) => i + 1),
    );
    const started = Date.now();
    const stuck = await Promise.all(
      users.map((u, i) =>
        call(gw[i % 2], "POST", "/api/reservations", { token: tokens.get(u), body: { concertDetailId: detail, userId: u, seatId: i + 1 } }),
      ),
    );
    const answeredMs = Date.now() - started;
    await release();
    await sleep(1_000); // anything booking still had in flight would commit now
    const unavailable = stuck.filter((r) => r.status === 503 && r.headers["retry-after"] !== undefined).length;
    const committedAfter = await liveHolds(users);
    expect(unavailable).toBe(users.length);
    expect(committedAfter).toBe(0);

    // the client retries with an Idempotency-Key: one hold, and the same answer again
    const [u] = users;
    const keyed = () =>
      call(gw[0], "POST", "/api/reservations", {
        token: tokens.get(u),
        body: { concertDetailId: detail, userId: u, seatId: 1 },
        headers: { "idempotency-key": `retry-${u}` },
      });
    const first = await keyed();
    const again = await keyed();
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.body.result.reservationId).toBe(first.body.result.reservationId);
    expect(await liveHolds([u])).toBe(1);
    earlierHolds += 1;
    report(
      `hardening-holds 5: ${stuck.length} holds stuck on locked seats answered 503 in ${answeredMs} ms (timeout ${BOOKING_TIMEOUT_MS} ms), ` +
        `${unavailable} with Retry-After, committed afterwards ${committedAfter}; keyed retry 201 twice, same reservation, 1 live hold`,
    );
  }, 30_000);

  it("6. a 4th hold waiting on a row lock while the Redlock lease is gone and a 5th commits: the user still has 4 live holds", async () => {
    const {
      detailIds: [detail],
    } = await sys.concert(1);
    const [user] = sys.userIds(1);
    const hold = (seatId: number) => {
      const request = { method: "POST", path: "/api/reservations", body: { concertDetailId: detail, userId: user, seatId } };
      const passport = signPassportFor(sys.secret, request, {
        userId: user,
        queueToken: randomUUID(),
        requestId: randomUUID(),
        exp: Date.now() + 30_000,
        deadline: Date.now() + 6_000,
      });
      return call(booking, request.method, request.path, { headers: { [PASSPORT_HEADER]: passport }, body: request.body });
    };
    for (const seat of [1, 2, 3]) expect((await hold(seat)).status).toBe(201);

    const release = await lockSeats(detail, [11]);
    const fourth = hold(11);
    await sleep(500); // the 4th is waiting on seat 11's row, inside its Redlock lease
    await sys.redis.del(seatGateKeys(seatGatePrefix(sys.queueName)).userHoldsLock(user)); // as if the lease ran out
    const fifth = await hold(12);
    await release();
    const fourthReply = await fourth;
    const live = await liveHolds([user]);
    expect(fifth.status).toBe(201);
    expect([fourthReply.status, fourthReply.body.error?.code]).toEqual([409, "HOLD_LIMIT"]);
    expect(live).toBe(4);
    report(
      `hardening-holds 6: 3 live holds, 4th waited on a row lock past its lease, 5th got ${fifth.status}, 4th got ${fourthReply.status} ` +
        `${fourthReply.body.error?.code}; live holds in Postgres ${live} (limit 4)`,
    );
  }, 30_000);

  it("3. 12 made-up users from one address, 4 seats each at once over two gateways, hold at most MAX_HOLDS_PER_CLIENT seats", async () => {
    const {
      detailIds: [detail],
    } = await sys.concert(1);
    const users = sys.userIds(12);
    const tokens = await admitUsers(gw[0], users);
    const started = Date.now();
    const replies = await Promise.all(
      users.flatMap((u, i) =>
        [1, 2, 3, 4].map((k) =>
          call(gw[(i + k) % 2], "POST", "/api/reservations", {
            token: tokens.get(u),
            body: { concertDetailId: detail, userId: u, seatId: i * 4 + k },
          }),
        ),
      ),
    );
    const ms = Date.now() - started;
    const by = (status: number) => replies.filter((r) => r.status === status).length;
    const live = await liveHolds(users);
    expect(by(201)).toBe(MAX_HOLDS_PER_CLIENT - earlierHolds);
    expect(live).toBe(by(201));
    expect(by(201) + by(409)).toBe(replies.length - by(429));
    expect(replies.filter((r) => r.status === 409).every((r) => r.body.error.code === "HOLD_LIMIT")).toBe(true);

    // the rate: what is left of this address's window, then 429
    let attempts = 0;
    let limited: Awaited<ReturnType<typeof call>>;
    for (;;) {
      const r = await call(gw[attempts % 2], "POST", "/api/reservations", {
        token: tokens.get(users[0]),
        body: { concertDetailId: detail, userId: users[0], seatId: 49 },
      });
      attempts++;
      if (r.status === 429 || attempts > HOLD_RATE_LIMIT) {
        limited = r;
        break;
      }
    }
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe("RATE_LIMITED");
    report(
      `hardening-holds 3: 12 users × 4 seats from one address in ${ms} ms: ${by(201)} held (cap ${MAX_HOLDS_PER_CLIENT}, ${earlierHolds} already live), ` +
        `${by(409)} HOLD_LIMIT, ${by(429)} RATE_LIMITED; live holds in Postgres ${live}; ` +
        `429 after ${attempts} more attempts (HOLD_RATE_LIMIT ${HOLD_RATE_LIMIT})`,
    );
  }, 30_000);
});
