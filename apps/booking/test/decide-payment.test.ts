import type { AppError } from "@concert/shared";
import {
  decideOwnership,
  decidePayment,
  paymentRequest,
  replayOrConflict,
  settled,
  type LockedRows,
  type PayInput,
  type PaymentDecision,
  type PaymentResult,
} from "../src/payments/decide-payment";

const USER = 7;
const PRICE = 50_000;

const request = (input: Partial<PayInput> = {}) => paymentRequest({ userId: USER, reservationIds: [11, 12], ...input });

/** Two reservations of USER, both still held on their seats, and enough points for both. */
function rows(over: Partial<LockedRows> = {}): LockedRows {
  return {
    earlier: null,
    seats: [
      { id: 101, status: "HELD", reservationId: 11 },
      { id: 102, status: "HELD", reservationId: 12 },
    ],
    reservations: [
      { id: 11, seatId: 101, status: "HELD", price: PRICE, expired: false },
      { id: 12, seatId: 102, status: "HELD", price: PRICE, expired: false },
    ],
    balance: 2 * PRICE,
    ...over,
  };
}

const earlier = (reservationIds: number[]): PaymentResult => ({
  paymentId: 900,
  reservationIds,
  amount: 2 * PRICE,
  balance: 0,
  status: "PAID",
  replayed: true,
});

function refusal(decision: PaymentDecision | AppError | null): { code: string; message: string; details: unknown } {
  const err = decision && "refusal" in decision ? decision.refusal : (decision as AppError | null);
  if (!err || !("code" in err)) throw new Error(`expected a refusal, got ${JSON.stringify(decision)}`);
  return { code: err.code, message: err.message, details: err.details };
}

describe("paymentRequest", () => {
  it("makes the reservation ids distinct and ascending, the order locks are taken in", () => {
    expect(paymentRequest({ userId: USER, reservationIds: [12, 3, 12, 11] }).reservationIds).toEqual([3, 11, 12]);
  });
});

describe("decideOwnership (before locking)", () => {
  const owned = [
    { id: 11, userId: USER, seatId: 101 },
    { id: 12, userId: USER, seatId: 102 },
  ];

  it("a reservation that does not exist is NOT_FOUND, naming the lowest missing id", () => {
    expect(refusal(decideOwnership(request({ reservationIds: [13, 11, 12, 14] }), owned))).toEqual({
      code: "NOT_FOUND",
      message: "Reservation 13 not found",
      details: { reservationId: 13 },
    });
  });

  it("another user's reservation is NOT_OWNER", () => {
    expect(refusal(decideOwnership(request(), [owned[0], { ...owned[1], userId: USER + 1 }]))).toEqual({
      code: "NOT_OWNER",
      message: "Reservation 12 belongs to another user",
      details: { reservationId: 12 },
    });
  });

  it("a missing reservation is refused before a foreign one", () => {
    expect(refusal(decideOwnership(request({ reservationIds: [11, 12, 13] }), [{ ...owned[0], userId: USER + 1 }, owned[1]])).code).toBe(
      "NOT_FOUND",
    );
  });

  it("the user's own reservations pass", () => {
    expect(decideOwnership(request(), owned)).toBeNull();
  });
});

describe("replayOrConflict (same Idempotency-Key)", () => {
  it("the same reservations get the stored answer", () => {
    const stored = earlier([11, 12]);
    expect(replayOrConflict(request({ reservationIds: [12, 11, 12] }), stored)).toEqual({ replay: stored });
    expect(settled(replayOrConflict(request(), stored))).toBe(stored);
  });

  it("other reservations are IDEMPOTENCY_CONFLICT, naming the earlier payment", () => {
    const decision = replayOrConflict(request({ reservationIds: [11] }), earlier([11, 12]));
    expect(refusal(decision)).toEqual({
      code: "IDEMPOTENCY_CONFLICT",
      message: "This Idempotency-Key was already used for other reservations",
      details: { paymentId: 900 },
    });
    expect(() => settled(decision)).toThrow(expect.objectContaining({ code: "IDEMPOTENCY_CONFLICT" }));
  });
});

describe("decidePayment (under the locks)", () => {
  it("pays the held reservations: the plan debits their summed price and sells their seats", () => {
    expect(decidePayment(request({ idempotencyKey: "k1", point: 2 * PRICE }), rows())).toEqual({
      plan: { userId: USER, reservationIds: [11, 12], seatIds: [101, 102], amount: 2 * PRICE, idempotencyKey: "k1" },
    });
  });

  it("a payment that committed with the same key meanwhile is replayed, or a conflict", () => {
    const stored = earlier([11, 12]);
    expect(decidePayment(request({ idempotencyKey: "k1" }), rows({ earlier: stored }))).toEqual({ replay: stored });
    expect(refusal(decidePayment(request({ idempotencyKey: "k1" }), rows({ earlier: earlier([11]) }))).code).toBe("IDEMPOTENCY_CONFLICT");
  });

  it("a paid reservation is ALREADY_PAID", () => {
    const r = rows();
    r.reservations[1] = { ...r.reservations[1], status: "CONFIRMED" };
    expect(refusal(decidePayment(request(), r))).toEqual({
      code: "ALREADY_PAID",
      message: "Reservation 12 is already paid",
      details: { reservationId: 12 },
    });
  });

  it.each<[string, (r: LockedRows) => void]>([
    ["the reservation's hold ran out", (r) => (r.reservations[0] = { ...r.reservations[0], expired: true })],
    ["the reservation was marked EXPIRED", (r) => (r.reservations[0] = { ...r.reservations[0], status: "EXPIRED" })],
    ["its seat was freed", (r) => (r.seats[0] = { id: 101, status: "FREE", reservationId: null })],
    ["its seat is held for another reservation", (r) => (r.seats[0] = { id: 101, status: "HELD", reservationId: 99 })],
  ])("%s → HOLD_EXPIRED", (_name, change) => {
    const r = rows();
    change(r);
    expect(refusal(decidePayment(request(), r))).toEqual({
      code: "HOLD_EXPIRED",
      message: "The hold of reservation 11 has expired; hold the seat again",
      details: { reservationId: 11 },
    });
  });

  it("a point that differs from the price is AMOUNT_MISMATCH", () => {
    expect(refusal(decidePayment(request({ point: PRICE }), rows()))).toEqual({
      code: "AMOUNT_MISMATCH",
      message: `point ${PRICE} differs from the price ${2 * PRICE}`,
      details: { expected: 2 * PRICE, given: PRICE },
    });
  });

  it("a balance below the price is INSUFFICIENT_POINTS", () => {
    expect(refusal(decidePayment(request(), rows({ balance: 2 * PRICE - 1 })))).toEqual({
      code: "INSUFFICIENT_POINTS",
      message: `Balance ${2 * PRICE - 1} is less than the price ${2 * PRICE}`,
      details: { balance: 2 * PRICE - 1, amount: 2 * PRICE },
    });
  });

  it("precedence: replay, then ALREADY_PAID, then HOLD_EXPIRED, then AMOUNT_MISMATCH, then INSUFFICIENT_POINTS", () => {
    const everythingWrong = (): LockedRows => {
      const r = rows({ balance: 0, earlier: earlier([11, 12]) });
      r.reservations[1] = { ...r.reservations[1], status: "CONFIRMED" };
      r.reservations[0] = { ...r.reservations[0], expired: true };
      return r;
    };
    const wrongPoint = { point: 1 };
    const codes: string[] = [];
    let r = everythingWrong();
    const replayed = decidePayment(request({ ...wrongPoint, idempotencyKey: "k" }), r);
    codes.push("replay" in replayed ? "replay" : "?");
    r = { ...everythingWrong(), earlier: null };
    codes.push(refusal(decidePayment(request(wrongPoint), r)).code);
    r.reservations[1] = { ...r.reservations[1], status: "HELD" };
    codes.push(refusal(decidePayment(request(wrongPoint), r)).code);
    r.reservations[0] = { ...r.reservations[0], expired: false };
    codes.push(refusal(decidePayment(request(wrongPoint), r)).code);
    codes.push(refusal(decidePayment(request(), r)).code);
    expect(codes).toEqual(["replay", "ALREADY_PAID", "HOLD_EXPIRED", "AMOUNT_MISMATCH", "INSUFFICIENT_POINTS"]);
  });

  it("an earlier payment is only looked at when the request has a key", () => {
    expect("plan" in decidePayment(request(), rows({ earlier: earlier([1]) }))).toBe(true);
  });
});
