import { signPassport, verifyPassport } from "../src/passport";
import { AppError } from "../src/errors";

const SECRET = "test-secret-0123456789";

function refusal(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("passport codec", () => {
  const now = 1_700_000_000_000;
  const good = { userId: 7, queueToken: "1b4e28ba-2fa1-11d2-883f-0016d3cca427", requestId: "r1", exp: now + 5000 };

  it("round-trips what the gateway vouched for", () => {
    expect(verifyPassport(SECRET, signPassport(SECRET, good), now)).toEqual(good);
  });

  it("rejects a passport signed with another secret (forged)", () => {
    const forged = signPassport("another-secret-9876543210", good);
    expect(refusal(() => verifyPassport(SECRET, forged, now))).toMatchObject({ code: "PASSPORT_INVALID", status: 401 });
  });

  it("rejects a passport whose payload was changed (tampered)", () => {
    const [v, , sig] = signPassport(SECRET, good).split(".");
    const body = Buffer.from(JSON.stringify({ ...good, userId: 8 })).toString("base64url");
    expect(refusal(() => verifyPassport(SECRET, `${v}.${body}.${sig}`, now)).code).toBe("PASSPORT_INVALID");
  });

  it("rejects a passport whose signature was changed by one character", () => {
    const p = signPassport(SECRET, good);
    const flipped = p.slice(0, -1) + (p.endsWith("A") ? "B" : "A");
    expect(refusal(() => verifyPassport(SECRET, flipped, now)).code).toBe("PASSPORT_INVALID");
  });

  it("rejects an expired passport", () => {
    const p = signPassport(SECRET, { ...good, exp: now - 1 });
    expect(refusal(() => verifyPassport(SECRET, p, now)).message).toMatch(/expired/);
  });

  it.each([undefined, "", "v1.abc", "v2.a.b", "x".repeat(5000), 42])("rejects a missing or malformed header %#", (header) => {
    expect(refusal(() => verifyPassport(SECRET, header, now)).code).toBe("PASSPORT_INVALID");
  });

  it("rejects a correctly signed payload with a non-integer user", () => {
    const p = signPassport(SECRET, { ...good, userId: 1.5 });
    expect(refusal(() => verifyPassport(SECRET, p, now)).code).toBe("PASSPORT_INVALID");
  });

  it("carries the caller's deadline, and rejects a correctly signed payload with a non-integer one", () => {
    const withDeadline = { ...good, deadline: now + 3000 };
    expect(verifyPassport(SECRET, signPassport(SECRET, withDeadline), now)).toEqual(withDeadline);
    const p = signPassport(SECRET, { ...good, deadline: "soon" as unknown as number });
    expect(refusal(() => verifyPassport(SECRET, p, now)).code).toBe("PASSPORT_INVALID");
  });
});
