import { createHmac } from "node:crypto";
import { bodyDigest, passportNonce, signPassport, verifyPassport, type Passport, type PassportBinding } from "../src/passport";
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

/** The header with its payload replaced by `edit` of it, the signature kept. */
function tampered(header: string, edit: (p: Record<string, unknown>) => void): string {
  const [v, body, sig] = header.split(".");
  const payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as Record<string, unknown>;
  edit(payload);
  return [v, Buffer.from(JSON.stringify(payload)).toString("base64url"), sig].join(".");
}

describe("passport codec", () => {
  const now = 1_700_000_000_000;
  const body = JSON.stringify({ userId: 7, point: 100 });
  const request: PassportBinding = { method: "PATCH", path: "/api/users/point", bodyDigest: bodyDigest(body) };
  const good: Passport = {
    userId: 7,
    queueToken: "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    requestId: "r1",
    nonce: passportNonce(),
    exp: now + 5000,
    ...request,
  };
  const verify = (header: unknown, req: PassportBinding = request) => verifyPassport(SECRET, header, req, now);

  it("round-trips what the gateway vouched for, for the request it was made for", () => {
    expect(verify(signPassport(SECRET, good))).toEqual(good);
  });

  it("digests the body as SHA-256 base64url; no body is the digest of zero bytes", () => {
    expect(bodyDigest()).toBe("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    expect(bodyDigest("")).toBe(bodyDigest());
    expect(bodyDigest(Buffer.from(body))).toBe(bodyDigest(body));
    expect(bodyDigest(JSON.stringify({ userId: 7, point: 101 }))).not.toBe(bodyDigest(body));
  });

  it("rejects a passport signed with another secret (forged)", () => {
    const forged = signPassport("another-secret-9876543210", good);
    expect(refusal(() => verify(forged))).toMatchObject({ code: "PASSPORT_INVALID", status: 401 });
  });

  it.each<[string, (p: Record<string, unknown>) => void]>([
    ["the user", (p) => (p.userId = 8)],
    ["the method", (p) => (p.method = "POST")],
    ["the path", (p) => (p.path = "/api/payment")],
    ["the body digest", (p) => (p.bodyDigest = bodyDigest("{}"))],
    ["the expiry", (p) => (p.exp = now + 60_000)],
    ["the nonce", (p) => (p.nonce = passportNonce())],
  ])("rejects a passport with %s changed under the same signature (tampered)", (_what, edit) => {
    expect(refusal(() => verify(tampered(signPassport(SECRET, good), edit))).message).toMatch(/bad signature/);
  });

  it("rejects a passport whose signature was changed by one character", () => {
    const p = signPassport(SECRET, good);
    // the signature's first character: every bit of it counts (the last one of a base64url
    // HMAC-SHA256 has two unused bits, so A↔B there can decode to the same signature)
    const at = p.lastIndexOf(".") + 1;
    const flipped = p.slice(0, at) + (p[at] === "A" ? "B" : "A") + p.slice(at + 1);
    expect(refusal(() => verify(flipped)).code).toBe("PASSPORT_INVALID");
  });

  it("rejects an expired passport", () => {
    const p = signPassport(SECRET, { ...good, exp: now - 1 });
    expect(refusal(() => verify(p)).message).toMatch(/expired/);
  });

  it.each<[string, Partial<PassportBinding>]>([
    ["another method", { method: "POST" }],
    ["another path", { path: "/api/payment" }],
    ["another query string", { path: "/api/users/point?x=1" }],
    ["another body", { bodyDigest: bodyDigest(JSON.stringify({ userId: 7, point: 1_000_000 })) }],
    ["no body", { bodyDigest: bodyDigest() }],
  ])("rejects a genuine passport used for %s: bound to another request", (_what, change) => {
    const p = signPassport(SECRET, good);
    expect(refusal(() => verify(p, { ...request, ...change }))).toMatchObject({
      code: "PASSPORT_INVALID",
      message: expect.stringMatching(/bound to another request/),
    });
  });

  it.each<[string, Record<string, unknown>]>([
    ["no user", { userId: undefined }],
    ["a non-integer user", { userId: 1.5 }],
    ["a user of 0", { userId: 0 }],
    ["no method", { method: undefined }],
    ["no path", { path: undefined }],
    ["no body digest", { bodyDigest: undefined }],
    ["a non-integer deadline", { deadline: "soon" }],
    ["no nonce", { nonce: undefined }],
    ["a short nonce", { nonce: "abc" }],
  ])("rejects a correctly signed payload with %s", (_what, change) => {
    const p = signPassport(SECRET, { ...good, ...change });
    expect(refusal(() => verify(p)).message).toMatch(/malformed/);
  });

  it("refuses a v1 passport (no binding) even when correctly signed", () => {
    const v2 = signPassport(SECRET, good);
    const [, payload] = v2.split(".");
    const sig = createHmac("sha256", SECRET).update(`v1.${payload}`).digest("base64url");
    expect(refusal(() => verify(`v1.${payload}.${sig}`)).message).toMatch(/malformed/);
  });

  it("gives every passport its own 96-bit nonce", () => {
    const nonces = new Set(Array.from({ length: 1000 }, passportNonce));
    expect(nonces.size).toBe(1000);
    for (const n of nonces) expect(n).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });

  it("carries the caller's deadline", () => {
    const withDeadline = { ...good, deadline: now + 3000 };
    expect(verify(signPassport(SECRET, withDeadline))).toEqual(withDeadline);
  });

  it.each([undefined, "", "v2.abc", "v1.a.b", "x".repeat(20_000), 42])("rejects a missing or malformed header %#", (header) => {
    expect(refusal(() => verify(header)).code).toBe("PASSPORT_INVALID");
  });
});
