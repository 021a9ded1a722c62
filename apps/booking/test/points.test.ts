import { call, nextId, passport, reserveIdBlock, snapshot, startBooking, type Booking, type TestPassport } from "./support/booking";

reserveIdBlock();

let a: Booking;
let b: Booking;
beforeAll(async () => {
  a = await startBooking();
  b = await startBooking();
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

const charge = (inst: Booking, userId: number, point: unknown, auth?: TestPassport) =>
  call(inst.url, "PATCH", "/api/users/point", { auth, body: { userId, point } });

describe("points", () => {
  it("when one user charges 10 points 100 times at once (two instances), the balance is exactly 1000 with 100 ledger rows", async () => {
    const user = nextId();
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => charge(i % 2 ? a : b, user, 10)));
    const elapsed = Date.now() - started;
    expect(replies.map((r) => r.status)).toEqual(Array(100).fill(200));
    // every answer is a distinct balance after its own charge
    expect(new Set(replies.map((r) => r.body.result.point)).size).toBe(100);

    expect(await a.db.user.findUnique({ where: { id: user } })).toMatchObject({ point: 1000n });
    const ledger = await a.db.pointLedger.findMany({ where: { userId: user }, orderBy: { id: "asc" } });
    expect(ledger).toHaveLength(100);
    expect(ledger.every((l) => l.type === "CHARGE" && l.amount === 10n)).toBe(true);
    expect(ledger.map((l) => Number(l.balanceAfter))).toEqual(Array.from({ length: 100 }, (_, i) => (i + 1) * 10));
    console.log(`100 concurrent charges through 2 instances: ${elapsed} ms`);
  });

  it("an unknown user has a balance of 0, and a charge answers the new balance", async () => {
    const user = nextId();
    expect((await call(a.url, "GET", `/api/users/${user}/point`)).body).toEqual({ result: { userId: user, point: 0 }, error: null });
    expect((await charge(a, user, 5000)).body).toEqual({ result: { userId: user, point: 5000 }, error: null });
    expect((await charge(b, user, 1_000_000)).body.result).toEqual({ userId: user, point: 1_005_000 });
    expect((await call(b.url, "GET", `/api/users/${user}/point`)).body.result).toEqual({ userId: user, point: 1_005_000 });
  });

  it("a charge past the balance cap (2^53 - 1) is 409 BALANCE_LIMIT and changes nothing", async () => {
    const user = nextId();
    await charge(a, user, 1);
    await a.db.user.update({ where: { id: user }, data: { point: BigInt(Number.MAX_SAFE_INTEGER) - 5n } });
    const before = await snapshot(a.db, { userIds: [user] });
    const r = await charge(a, user, 6);
    expect([r.status, r.body.error?.code, r.body.result]).toEqual([409, "BALANCE_LIMIT", null]);
    expect(await snapshot(a.db, { userIds: [user] })).toEqual(before);
    // exactly up to the cap is fine
    expect((await charge(a, user, 5)).body.result.point).toBe(Number.MAX_SAFE_INTEGER);
  });

  const refusals: [string, unknown, unknown][] = [
    ["0 points", 0, undefined],
    ["a negative amount", -10, undefined],
    ["a fraction", 10.5, undefined],
    ["a numeric string", "10", undefined],
    ["more than MAX_CHARGE_POINT", 1_000_001, undefined],
    ["an extra field", 10, { extra: 1 }],
  ];
  it.each(refusals)("charging %s is 400 VALIDATION_FAILED naming the field and changes nothing", async (_n, point, extra) => {
    const user = nextId();
    await charge(a, user, 100);
    const before = await snapshot(a.db, { userIds: [user] });
    const r = await call(a.url, "PATCH", "/api/users/point", { body: { userId: user, point, ...(extra as object) } });
    expect([r.status, r.body.error?.code]).toEqual([400, "VALIDATION_FAILED"]);
    expect(r.body.error?.details?.field).toBe(extra ? "extra" : "point");
    expect(await snapshot(a.db, { userIds: [user] })).toEqual(before);
  });

  it("a charge for another user than the passport's is 403 and changes nothing; a body that is not JSON is 400", async () => {
    const [me, other] = [nextId(), nextId()];
    const r = await charge(a, other, 10, passport({ userId: me }));
    expect([r.status, r.body.error?.code]).toEqual([403, "TOKEN_USER_MISMATCH"]);
    expect(await a.db.user.count({ where: { id: { in: [me, other] } } })).toBe(0);
    const bad = await call(a.url, "PATCH", "/api/users/point", { body: "{not json" });
    expect([bad.status, bad.body.error?.code]).toEqual([400, "VALIDATION_FAILED"]);
  });
});
