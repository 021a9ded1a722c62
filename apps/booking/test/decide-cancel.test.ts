import { decideCancel, type LockedCancel } from "../src/refunds/decide-cancel";

const input = { userId: 1, reservationId: 10 };

function rows(
  over: { reservation?: Partial<LockedCancel["reservation"]>; payment?: LockedCancel["payment"]; balance?: number } = {},
): LockedCancel {
  return {
    reservation: {
      id: 10,
      userId: 1,
      seatId: 100,
      status: "CONFIRMED",
      price: 500,
      paymentId: 7,
      cancelKey: null,
      deadlinePassed: false,
      cancelDeadline: new Date("2030-01-01T00:00:00Z"),
      ...over.reservation,
    },
    payment: over.payment ?? { amount: 1_000, refunded: 0 },
    earlier: null,
    balance: over.balance ?? 0,
    maxBalance: 10_000,
  };
}

const codeOf = (d: ReturnType<typeof decideCancel>) => ("refusal" in d ? d.refusal.code : "plan" in d ? "PLAN" : "REPLAY");

describe("decideCancel", () => {
  it("plans a refund of the reservation's own price, tied to its payment", () => {
    expect(decideCancel({ ...input, idempotencyKey: "k" }, rows())).toEqual({
      plan: { userId: 1, reservationId: 10, seatId: 100, paymentId: 7, amount: 500, idempotencyKey: "k" },
    });
  });

  it("refuses in order: ALREADY_CANCELLED, NOT_PAID, CANCEL_DEADLINE_PASSED", () => {
    expect(codeOf(decideCancel(input, rows({ reservation: { status: "CANCELLED", deadlinePassed: true } })))).toBe("ALREADY_CANCELLED");
    expect(codeOf(decideCancel(input, rows({ reservation: { status: "HELD", paymentId: null, deadlinePassed: true } })))).toBe("NOT_PAID");
    expect(codeOf(decideCancel(input, rows({ reservation: { status: "EXPIRED", paymentId: null } })))).toBe("NOT_PAID");
    expect(codeOf(decideCancel(input, rows({ reservation: { deadlinePassed: true } })))).toBe("CANCEL_DEADLINE_PASSED");
  });

  it("never refunds a payment beyond its amount", () => {
    expect(codeOf(decideCancel(input, rows({ payment: { amount: 1_000, refunded: 500 } })))).toBe("PLAN");
    expect(codeOf(decideCancel(input, rows({ payment: { amount: 1_000, refunded: 501 } })))).toBe("INTERNAL");
  });

  it("a refund past the balance cap is 409 BALANCE_LIMIT, not silently dropped; MAX_CHARGE_POINT does not apply", () => {
    expect(codeOf(decideCancel(input, rows({ balance: 9_500 })))).toBe("PLAN");
    expect(codeOf(decideCancel(input, rows({ balance: 9_501 })))).toBe("BALANCE_LIMIT");
  });
});
