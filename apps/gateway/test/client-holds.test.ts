import { testClock, type TestClock } from "@concert/test-support";
import { protocolProblems } from "@concert/shared";
import { CLIENT_HOLDS_SCRIPTS } from "../src/forward/client-holds";
import { call, seatGateOf, startFakeBooking, startGateway, type RunningGateway } from "./helpers";

/**
 * A fake booking that makes every hold it is sent (201, a fresh reservation per seat, in the
 * answer's form for `seatId` or `seatIds`), lasting `holdMs`, and releases any reservation (200).
 */
function holdingBooking(holdMs: () => number) {
  let next = 0;
  return startFakeBooking((req) => {
    if (req.method === "DELETE") {
      const reservationId = Number(req.path.split("/").pop());
      const released = { reservationId, concertDetailId: 1, seatId: 1, price: 0, status: "EXPIRED", expiresAt: new Date().toISOString() };
      return { status: 200, body: { result: released, error: null } };
    }
    const body = req.body as { concertDetailId: number; seatId?: number; seatIds?: number[] };
    const expiresAt = new Date(Date.now() + holdMs()).toISOString();
    const made = (seatId: number) => ({
      reservationId: ++next,
      concertDetailId: body.concertDetailId,
      seatId,
      price: 0,
      status: "HELD",
      expiresAt,
    });
    const result = body.seatIds ? { reservations: body.seatIds.map(made), expiresAt } : made(body.seatId as number);
    return { status: 201, body: { result, error: null } };
  });
}

describe("holds per client address", () => {
  let booking: Awaited<ReturnType<typeof startFakeBooking>>;
  let gateways: RunningGateway[];
  let clock: TestClock;
  let holdMs = 300_000;
  const tickMs = 10;
  const queueName = () => `holds-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

  beforeEach(async () => {
    holdMs = 300_000;
    booking = await holdingBooking(() => holdMs);
    clock = testClock();
    gateways = [];
  });
  afterEach(async () => {
    for (const g of gateways) await g.close();
    await booking.close();
  });

  async function gatewaysOn(name: string, env: Record<string, string>, n = 1): Promise<RunningGateway[]> {
    for (let i = 0; i < n; i++) {
      gateways.push(await startGateway({ BOOKING_URL: booking.url, QUEUE_NAME: name, QUEUE_TICK_MS: String(tickMs), ...env }, { clock }));
    }
    return gateways;
  }

  async function admitted(gw: RunningGateway, userIds: number[]): Promise<string[]> {
    const tokens = await Promise.all(
      userIds.map(async (userId) => (await call(gw.url, "POST", "/api/users/token", { body: { userId } })).body.result.token as string),
    );
    clock.advance(tickMs);
    await gw.gateway.ticker.runOnce();
    return tokens;
  }

  const hold = (gw: RunningGateway, token: string, userId: number, seatId: number) =>
    call(gw.url, "POST", "/api/reservations", { body: { concertDetailId: 1, userId, seatId }, headers: { token } });

  it("12 made-up users from one address, 4 seats each at once through two instances, hold only MAX_HOLDS_PER_CLIENT", async () => {
    const [a, b] = await gatewaysOn(queueName(), { MAX_HOLDS_PER_CLIENT: "5", HOLD_RATE_LIMIT: "0" }, 2);
    const users = Array.from({ length: 12 }, (_, i) => 1000 + i);
    const tokens = await admitted(a, users);
    const replies = await Promise.all(users.flatMap((u, i) => [1, 2, 3, 4].map((k) => hold((i + k) % 2 ? a : b, tokens[i], u, i * 4 + k))));
    const made = replies.filter((r) => r.status === 201);
    const refused = replies.filter((r) => r.status === 409);
    expect(made).toHaveLength(5);
    expect(refused).toHaveLength(43);
    expect(new Set(refused.map((r) => r.body.error.code))).toEqual(new Set(["HOLD_LIMIT"]));
    expect(refused[0].body.error.details).toEqual({ maxHoldsPerClient: 5 });
    expect(booking.seen).toHaveLength(5); // the refused never reached booking
  });

  it("a several-seat hold takes a place per seat, refused whole when they do not all fit; a released hold gives its place back", async () => {
    const [gw] = await gatewaysOn(queueName(), { MAX_HOLDS_PER_CLIENT: "4", HOLD_RATE_LIMIT: "0" });
    const [token] = await admitted(gw, [4000]);
    const holdMany = (seatIds: number[]) =>
      call(gw.url, "POST", "/api/reservations", { body: { concertDetailId: 1, userId: 4000, seatIds }, headers: { token } });
    const three = await holdMany([1, 2, 3]);
    expect(three.status).toBe(201);
    const two = await holdMany([4, 5]);
    expect([two.status, two.body.error.code]).toEqual([409, "HOLD_LIMIT"]);
    expect(booking.seen).toHaveLength(1); // refused before booking
    expect((await holdMany([4])).status).toBe(201);
    expect((await hold(gw, token, 4000, 6)).body.error.code).toBe("HOLD_LIMIT");
    const { reservationId } = three.body.result.reservations[0];
    const released = await call(gw.url, "DELETE", `/api/reservations/${reservationId}`, { headers: { token } });
    expect(released.status).toBe(200);
    expect((await hold(gw, token, 4000, 6)).status).toBe(201);
    expect((await hold(gw, token, 4000, 7)).body.error.code).toBe("HOLD_LIMIT");
  });

  it("a hold that lapsed stops counting", async () => {
    const [gw] = await gatewaysOn(queueName(), { MAX_HOLDS_PER_CLIENT: "1", HOLD_RATE_LIMIT: "0" });
    const [token] = await admitted(gw, [2000]);
    holdMs = 300;
    expect((await hold(gw, token, 2000, 1)).status).toBe(201);
    expect((await hold(gw, token, 2000, 2)).body.error.code).toBe("HOLD_LIMIT");
    await new Promise((r) => setTimeout(r, 400));
    holdMs = 300_000;
    expect((await hold(gw, token, 2000, 3)).status).toBe(201);
    expect((await hold(gw, token, 2000, 4)).status).toBe(409);
    expect(booking.seen).toHaveLength(2);
  });

  it("holds booking does not make take no place", async () => {
    await booking.close();
    booking = await startFakeBooking(() => ({
      status: 409,
      body: { result: null, error: { code: "SEAT_UNAVAILABLE", message: "taken" } },
    }));
    const [gw] = await gatewaysOn(queueName(), { MAX_HOLDS_PER_CLIENT: "1", HOLD_RATE_LIMIT: "0" });
    const [token] = await admitted(gw, [3000]);
    for (const seat of [1, 2, 3]) expect((await hold(gw, token, 3000, seat)).body.error.code).toBe("SEAT_UNAVAILABLE");
    expect(booking.seen).toHaveLength(3);
  });

  it("past HOLD_RATE_LIMIT per window an address gets 429 RATE_LIMITED with Retry-After, across instances", async () => {
    const [a, b] = await gatewaysOn(queueName(), { MAX_HOLDS_PER_CLIENT: "0", HOLD_RATE_LIMIT: "3", HOLD_RATE_WINDOW_SEC: "60" }, 2);
    const users = [4000, 4001];
    const tokens = await admitted(a, users);
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await hold(i % 2 ? a : b, tokens[i % 2], users[i % 2], i + 1));
    expect(replies.map((r) => r.status)).toEqual([201, 201, 201, 429]);
    expect(replies[3].body.error.code).toBe("RATE_LIMITED");
    expect(replies[3].body.error.message).toMatch(/seat holds/);
    expect(Number(replies[3].headers.get("retry-after"))).toBeGreaterThan(0);
    expect(booking.seen).toHaveLength(3);
  });

  it("a hold refused by the rate takes no live place: the places it asked for beside the rate check are given back", async () => {
    const name = queueName();
    const [gw] = await gatewaysOn(name, { MAX_HOLDS_PER_CLIENT: "10", HOLD_RATE_LIMIT: "3", HOLD_RATE_WINDOW_SEC: "60" });
    const users = [5000, 5001, 5002, 5003, 5004, 5005];
    const tokens = await admitted(gw, users);
    const statuses = [];
    for (const [i, user] of users.entries()) statuses.push((await hold(gw, tokens[i], user, i + 1)).status);
    expect(statuses).toEqual([201, 201, 201, 429, 429, 429]);
    const { redis } = seatGateOf(gw);
    const [key] = await redis.keys(`holds:${name}:client:*`);
    // only the three reservations count; a place left by a 429 would count until the forward timeout
    expect((await redis.zrange(key, 0, -1)).sort()).toEqual(["r:1", "r:2", "r:3"]);
  });
});

describe("the client-holds scripts' protocol", () => {
  it.each(CLIENT_HOLDS_SCRIPTS.map((s) => [s.name, s] as const))(
    "%s returns only codes it names and reads KEYS/ARGV by name",
    (_, script) => {
      expect(protocolProblems(script)).toEqual([]);
    },
  );
});
