import { SignJWT, UnsecuredJWT } from "jose";
import { AUDIENCE, ISSUER, bearer, jwtEnv, mint, startJwks, testKey, until, type JwksServer, type TestKey } from "@concert/test-support";
import { Tally, call, type Reply } from "./support/client";
import { snapshot } from "./support/database";
import { pool } from "./support/flows";
import { invariantText, report, startSystem, type System } from "./support/harness";

// Issue 13 against real processes: both gateways in AUTH_MODE=jwt (NODE_ENV=production) on one
// identity provider's JWKS, served by this test on loopback; two bookings on a fresh database.
describe("system: verified users (AUTH_MODE=jwt)", () => {
  let sys: System;
  let jwks: JwksServer;
  let key: TestKey;
  let gw: string;
  let gw2: string;
  let detailId: number;
  let concertId: number;
  beforeAll(async () => {
    key = await testKey("k1", "RS256");
    jwks = await startJwks([key]);
    sys = await startSystem({ tag: "jwt", gatewayEnv: jwtEnv(jwks) });
    [gw, gw2] = sys.gateways.map((g) => g.url);
    ({
      concertId,
      detailIds: [detailId],
    } = await sys.concert(1));
  }, 90_000);
  afterAll(async () => {
    await sys?.stop();
    await jwks?.close();
  }, 60_000);

  const as = async (userId: number, token?: string) => ({ ...bearer(await mint(key, String(userId))), ...(token ? { token } : {}) });

  /** Joins the queue as the verified user through `base` and polls (`me`) until admitted; returns the queue token. */
  async function admitted(base: string, userId: number): Promise<string> {
    const r = await call(base, "POST", "/api/users/token", { body: {}, headers: await as(userId) });
    expect(r.status).toBe(200);
    const token = r.body.result.token as string;
    const admittedPoll = await until(
      async () => call(base, "GET", "/api/users/me/token", { headers: await as(userId, token) }),
      (poll) => poll.body?.result?.status === "IN_PROGRESS",
      20_000,
      150,
    );
    expect(admittedPoll.body.result.status).toBe("IN_PROGRESS");
    return token;
  }

  it("both gateways accept the same keys: a user joins on one, is admitted and holds on the other", async () => {
    const [u] = sys.userIds(1);
    const token = await admitted(gw, u);
    const poll = await call(gw2, "GET", `/api/users/${u}/token`, { headers: await as(u, token) });
    const hold = await call(gw2, "POST", "/api/reservations", {
      headers: await as(u, token),
      body: { concertDetailId: detailId, seatId: 1 },
    });
    const points = await call(gw2, "GET", "/api/users/me/point", { headers: await as(u) });
    report(
      `jwt multi-instance: token from gateway-1, poll ${poll.status} / hold ${hold.status} / me balance ${points.status} on gateway-2`,
    );
    expect([poll.status, poll.body.result.status, hold.status, points.status, points.body.result.userId]).toEqual([
      200,
      "IN_PROGRESS",
      201,
      200,
      u,
    ]);
  }, 60_000);

  it("8 trust (jwt): no bearer, forged bearers, a bearer naming another user, another user's queue token are all refused and change nothing", async () => {
    const [u, v] = sys.userIds(2);
    const [tu, tv] = [await admitted(gw, u), await admitted(gw2, v)];
    const holdOf = async (userId: number, token: string, seatId: number) =>
      (await call(gw, "POST", "/api/reservations", { headers: await as(userId, token), body: { concertDetailId: detailId, seatId } })).body
        .result.reservationId as number;
    const [ru, rv] = [await holdOf(u, tu, 10), await holdOf(v, tv, 11)];
    for (const userId of [u, v]) {
      expect((await call(gw, "PATCH", "/api/users/point", { headers: await as(userId), body: { point: 100_000 } })).status).toBe(200);
    }
    const before = await snapshot(sys.db.pool);

    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: String(v), iss: ISSUER, aud: AUDIENCE, exp: now + 3600 };
    const other = await testKey("k1", "RS256"); // the same kid, another key
    const [h, , s] = (await mint(key, String(u))).split(".");
    const forged: [string, string][] = [
      ["expired", await mint(key, String(v), { exp: now - 60 })],
      ["not yet valid", await mint(key, String(v), { nbf: now + 60 })],
      ["wrong issuer", await mint(key, String(v), { iss: "https://evil.test/" })],
      ["wrong audience", await mint(key, String(v), { aud: "other" })],
      ["alg none", new UnsecuredJWT(claims).encode()],
      [
        "HS256 with the public key",
        await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: "k1" }).sign(new TextEncoder().encode(key.spki)),
      ],
      ["u's signature on v", `${h}.${Buffer.from(JSON.stringify({ ...claims, iat: now })).toString("base64url")}.${s}`],
      ["another key, same kid", await mint(other, String(v))],
      ["unknown kid", await mint({ ...other, kid: "k9" }, String(v))],
    ];
    const cases: { name: string; r: Promise<Reply>; status: number; code: string }[] = [];
    const expect_ = (name: string, r: Promise<Reply>, status: number, code: string) => cases.push({ name, r, status, code });
    /** every user route, aimed at v */
    const attacks = (token?: string): [string, string, string, unknown?][] => [
      ["issue for v", "POST", "/api/users/token", { userId: v }],
      ["v's status", "GET", `/api/users/${v}/token`],
      ["v's balance", "GET", `/api/users/${v}/point`],
      ["charge v", "PATCH", "/api/users/point", { userId: v, point: 1 }],
      ["hold for v", "POST", "/api/reservations", { concertDetailId: detailId, userId: v, seatId: 20 }],
      ["pay v's hold", "POST", "/api/payment", { userId: v, reservationId: rv }],
      ...(token ? [] : ([["dates", "GET", `/api/concert/${concertId}/date`]] as [string, string, string][])),
    ];
    for (const [name, method, path, body] of attacks()) {
      expect_(`no bearer: ${name}`, call(gw, method, path, { body, token: tu }), 401, "AUTH_REQUIRED");
      for (const [fname, jwt] of forged)
        expect_(`${fname}: ${name}`, call(gw2, method, path, { body, token: tv, headers: bearer(jwt) }), 401, "AUTH_INVALID");
    }
    for (const [name, method, path, body] of attacks(tu)) {
      expect_(`u's bearer: ${name}`, call(gw, method, path, { body, headers: await as(u, tu) }), 403, "USER_MISMATCH");
      expect_(`u's bearer, v's token: ${name}`, call(gw2, method, path, { body, headers: await as(u, tv) }), 403, "USER_MISMATCH");
    }
    // v's queue token with u's bearer, naming nobody
    expect_(
      "v's token, u's bearer: dates",
      call(gw, "GET", `/api/concert/${concertId}/date`, { headers: await as(u, tv) }),
      403,
      "TOKEN_USER_MISMATCH",
    );
    expect_("v's token, u's bearer: me", call(gw, "GET", "/api/users/me/token", { headers: await as(u, tv) }), 403, "TOKEN_USER_MISMATCH");
    expect_(
      "v's token, u's bearer: hold",
      call(gw, "POST", "/api/reservations", { headers: await as(u, tv), body: { concertDetailId: detailId, seatId: 21 } }),
      403,
      "TOKEN_USER_MISMATCH",
    );
    expect_(
      "v's token, u's bearer: pay v's hold",
      call(gw, "POST", "/api/payment", { headers: await as(u, tv), body: { reservationId: rv } }),
      403,
      "TOKEN_USER_MISMATCH",
    );
    // u, fully verified, paying v's hold: the gateway fills in u, booking refuses a hold that is not u's
    expect_(
      "u pays v's hold",
      call(gw, "POST", "/api/payment", { headers: await as(u, tu), body: { reservationId: rv } }),
      403,
      "NOT_OWNER",
    );

    const wrong: string[] = [];
    for (const c of cases) {
      const r = await c.r;
      if (r.status !== c.status || r.body?.error?.code !== c.code)
        wrong.push(`${c.name}: ${r.status} ${r.body?.error?.code ?? JSON.stringify(r.body)?.slice(0, 100)}`);
    }
    // asking for a token again (the session takeover of the issue) gives u's own token, never v's
    const again = await call(gw2, "POST", "/api/users/token", { body: {}, headers: await as(u) });
    // 2,000 bearers signed by a key the identity provider never published, over both gateways
    const random = new Tally();
    const RANDOM = 2_000;
    const started = Date.now();
    await pool(
      Array.from({ length: RANDOM }, (_, i) => i),
      64,
      async (i) => {
        const r = await call(sys.gateways[i % 2].url, "GET", `/api/users/${v}/point`, {
          headers: bearer(await mint(other, String(v), { jti: String(i) })),
          tally: random,
        });
        if (r.body?.error?.code !== "AUTH_INVALID") random.add({ ...r, status: -1 }, "wrong code");
      },
    );
    const randomMs = Date.now() - started;
    const after = await snapshot(sys.db.pool);
    const inv = await sys.invariants();
    report(
      `8 trust (jwt): ${cases.length} no-bearer, forged-bearer (${forged.length} kinds), other-user and other-token requests → ${wrong.length} wrong; ` +
        `${RANDOM} bearers of an unpublished key in ${(randomMs / 1000).toFixed(1)} s → ${random.summary()}; repeated issue gives u's own token ${again.body?.result?.token === tu}; ` +
        `JWKS fetched ${jwks.fetches}x; db snapshot ${before.hash === after.hash ? "unchanged" : "CHANGED"}; ${invariantText(inv)}`,
    );
    expect(wrong).toEqual([]);
    expect(random.byStatus).toEqual({ "401": RANDOM });
    expect([again.status, again.body.result.token]).toEqual([200, tu]);
    expect(after.hash).toBe(before.hash);
    expect(inv.violations).toEqual([]);
    expect(ru).toBeGreaterThan(0);
  }, 120_000);
});
