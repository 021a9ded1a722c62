import { SignJWT, UnsecuredJWT, base64url, importJWK } from "jose";
import { createLogger, openApiPath } from "@concert/shared";
import {
  AUDIENCE,
  ISSUER,
  bearer,
  jwtEnv,
  mint,
  startJwks,
  testClock,
  testKey,
  type JwksServer,
  type TestKey,
} from "@concert/test-support";
import { BEARER_SCHEME, buildOpenApiDocument } from "../src/api/openapi";
import { ROUTE_TABLE } from "../src/api/route-table";
import { BearerVerifier } from "../src/auth/verifier";
import { call, closedPort, startFakeBooking, startGateway, type RunningGateway } from "./helpers";

// AUTH_MODE=jwt on one in-process gateway: keys generated here with jose, the identity provider's
// JWKS served on loopback by the test, a stand-in booking that records what reached it.
describe("AUTH_MODE=jwt: the gateway's verified users", () => {
  let keyA: TestKey;
  let keyB: TestKey;
  let jwks: JwksServer;
  let booking: Awaited<ReturnType<typeof startFakeBooking>>;
  let gw: RunningGateway;
  const clock = testClock();
  const tickMs = 10;

  beforeAll(async () => {
    [keyA, keyB] = await Promise.all([testKey("a", "RS256"), testKey("b", "ES256")]);
  });
  beforeEach(async () => {
    jwks = await startJwks([keyA]);
    booking = await startFakeBooking();
    // cooldown 0: an unknown kid refetches at once (the cooldown has its own test below)
    gw = await startGateway(
      {
        ...jwtEnv(jwks, { AUTH_JWKS_COOLDOWN_SEC: "0" }),
        BOOKING_URL: booking.url,
        QUEUE_ADMIT_BATCH: "10",
        QUEUE_TICK_MS: String(tickMs),
      },
      { clock },
    );
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await gw.close();
    await booking.close();
    await jwks.close();
  });

  const issue = (headers: Record<string, string>, body: unknown = {}) => call(gw.url, "POST", "/api/users/token", { body, headers });

  /** The user's queue token, admitted. */
  async function admitted(userId: number): Promise<string> {
    const r = await issue(bearer(await mint(keyA, String(userId))));
    expect(r.status).toBe(200);
    clock.advance(tickMs);
    await gw.gateway.ticker.runOnce();
    return r.body.result.token;
  }

  const expectInvalid = (r: { status: number; body: any; headers: Headers }) => {
    expect([r.status, r.body.error.code, r.body.error.message]).toEqual([401, "AUTH_INVALID", "The bearer token is not valid"]);
    expect(r.headers.get("www-authenticate")).toBe('Bearer realm="concert", error="invalid_token"');
  };

  it("accepts a valid token (sub as a decimal string or a JSON number) and issues the queue token to its user", async () => {
    const token = (await issue(bearer(await mint(keyA, "5")))).body.result.token;
    const asNumber = await issue(bearer(await mint(keyA, 5)));
    expect([asNumber.status, asNumber.body.result.token]).toEqual([200, token]); // the same user, the same live token
    const poll = await call(gw.url, "GET", "/api/users/5/token", { headers: { ...bearer(await mint(keyA, "5")), token } });
    expect([poll.status, poll.body.result.token]).toEqual([200, token]);
  });

  it.each<[string, () => Promise<string>]>([
    ["expired", () => mint(keyA, "5", { exp: Math.floor(Date.now() / 1000) - 60 })],
    ["not yet valid", () => mint(keyA, "5", { nbf: Math.floor(Date.now() / 1000) + 60 })],
    ["wrong issuer", () => mint(keyA, "5", { iss: "https://evil.test/" })],
    ["wrong audience", () => mint(keyA, "5", { aud: "another-api" })],
    ["without exp", () => mint(keyA, "5", { exp: undefined })],
    [
      "alg none",
      async () => new UnsecuredJWT({ sub: "5", iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 3600 }).encode(),
    ],
    [
      "HS256 signed with the RSA public key (algorithm confusion)",
      () =>
        new SignJWT({ sub: "5", iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 3600 })
          .setProtectedHeader({ alg: "HS256", kid: "a" })
          .sign(new TextEncoder().encode(keyA.spki)),
    ],
    [
      "tampered payload (user 5's signature on user 6)",
      async () => {
        const [h, p, s] = (await mint(keyA, "5")).split(".");
        const payload = JSON.parse(new TextDecoder().decode(base64url.decode(p)));
        return [h, base64url.encode(JSON.stringify({ ...payload, sub: "6" })), s].join(".");
      },
    ],
    ["a user claim that is no id (letters)", () => mint(keyA, "user-5")],
    ["a user claim that is no id (0)", () => mint(keyA, 0)],
    ["a user claim that is no id (past MAX_ID)", () => mint(keyA, "2147483648")],
    ["a user claim that is no id (a fraction)", () => mint(keyA, 5.5)],
    ["not a JWT", async () => "not.a.jwt"],
  ])("refuses a token that is %s with 401 AUTH_INVALID, on the hot path and on Express alike", async (_name, make) => {
    const jwt = await make();
    expectInvalid(await issue(bearer(jwt))); // hot
    expectInvalid(await call(gw.url, "GET", "/api/users/me/point", { headers: bearer(jwt) })); // Express, a forwarded route
    expect(booking.seen).toHaveLength(0);
  });

  it("allows the small clock tolerance (AUTH_CLOCK_TOLERANCE_SEC, 5 s) on exp", async () => {
    expect((await issue(bearer(await mint(keyA, "5", { exp: Math.floor(Date.now() / 1000) - 2 })))).status).toBe(200);
  });

  it("refuses a request without a bearer with 401 AUTH_REQUIRED and the Bearer challenge, before anything else", async () => {
    const challenge = 'Bearer realm="concert"';
    for (const headers of [{}, { authorization: "Basic dTpw" }] as Record<string, string>[]) {
      const hot = await issue(headers, { userId: 6 });
      const express = await call(gw.url, "PATCH", "/api/users/point", { body: { userId: 6, point: 100 }, headers });
      for (const r of [hot, express]) {
        expect([r.status, r.body.error.code, r.headers.get("www-authenticate")]).toEqual([401, "AUTH_REQUIRED", challenge]);
      }
    }
    expect(booking.seen).toHaveLength(0);
  });

  it("makes every user route need the bearer; the queue stream keeps the queue token alone", async () => {
    const token = await admitted(5);
    const routes: [string, string, unknown?][] = [
      ["POST", "/api/users/token", {}],
      ["GET", "/api/users/5/token"],
      ["GET", "/api/concert/1/date"],
      ["GET", "/api/concert/1/seat"],
      ["POST", "/api/reservations", { concertDetailId: 1, userId: 5, seatId: 1 }],
      ["PATCH", "/api/users/point", { userId: 5, point: 1 }],
      ["GET", "/api/users/5/point"],
      ["POST", "/api/payment", { userId: 5, reservationId: 1 }],
    ];
    for (const [method, path, body] of routes) {
      const r = await call(gw.url, method, path, { body, headers: { token } });
      expect([method, path, r.status, r.body.error?.code]).toEqual([method, path, 401, "AUTH_REQUIRED"]);
    }
    const stream = await fetch(`${gw.url}/api/queue/stream?userId=5&token=${token}`);
    expect([stream.status, stream.headers.get("content-type")]).toEqual([200, expect.stringMatching(/^text\/event-stream/)]);
    await stream.body?.cancel();
  });

  it("refuses a request naming another user with 403 USER_MISMATCH (body, path, hold, charge, payment) and sends nothing to booking", async () => {
    const token = await admitted(5);
    const headers = { ...bearer(await mint(keyA, "5")), token };
    const named: [string, string, unknown?][] = [
      ["POST", "/api/users/token", { userId: 6 }],
      ["GET", "/api/users/6/token"],
      ["GET", "/api/users/6/point"],
      ["POST", "/api/reservations", { concertDetailId: 1, userId: 6, seatId: 1 }],
      ["PATCH", "/api/users/point", { userId: 6, point: 1000 }],
      ["POST", "/api/payment", { userId: 6, reservationId: 1 }],
    ];
    for (const [method, path, body] of named) {
      const r = await call(gw.url, method, path, { body, headers });
      expect([method, path, r.status, r.body.error?.code]).toEqual([method, path, 403, "USER_MISMATCH"]);
    }
    // the named user is checked before the queue token
    const badToken = await call(gw.url, "POST", "/api/reservations", {
      body: { concertDetailId: 1, userId: 6, seatId: 1 },
      headers: { ...headers, token: "not-a-token" },
    });
    expect([badToken.status, badToken.body.error.code]).toEqual([403, "USER_MISMATCH"]);
    expect(booking.seen).toHaveLength(0);
  });

  it("refuses a queue token of user 5 used with user 6's bearer (403 TOKEN_USER_MISMATCH)", async () => {
    const token = await admitted(5);
    const headers = { ...bearer(await mint(keyA, "6")), token };
    for (const [method, path, body] of [
      ["GET", "/api/concert/1/date"],
      ["POST", "/api/reservations", { concertDetailId: 1, seatId: 1 }],
      ["GET", "/api/users/me/token"],
      ["GET", "/api/users/6/token"],
    ] as [string, string, unknown?][]) {
      const r = await call(gw.url, method, path, { body, headers });
      expect([method, path, r.status, r.body.error?.code]).toEqual([method, path, 403, "TOKEN_USER_MISMATCH"]);
    }
    expect(booking.seen).toHaveLength(0);
  });

  it("fills in the verified user: `me` in a path, a body without userId; booking receives a complete request", async () => {
    const token = await admitted(5);
    const headers = { ...bearer(await mint(keyA, "5")), token };
    const poll = await call(gw.url, "GET", "/api/users/me/token", { headers });
    expect([poll.status, poll.body.result.token]).toEqual([200, token]);
    expect((await call(gw.url, "GET", "/api/users/me/point?x=1", { headers })).status).toBe(200);
    expect((await call(gw.url, "POST", "/api/reservations", { body: { concertDetailId: 1, seatId: 3 }, headers })).status).toBe(200);
    expect((await call(gw.url, "PATCH", "/api/users/point", { body: { point: 100 }, headers: bearer(await mint(keyA, "5")) })).status).toBe(
      200,
    );
    expect(booking.seen.map((s) => [s.method, s.path, s.body, s.passport.userId])).toEqual([
      ["GET", "/api/users/5/point?x=1", undefined, 5],
      ["POST", "/api/reservations", { concertDetailId: 1, seatId: 3, userId: 5 }, 5],
      ["PATCH", "/api/users/point", { point: 100, userId: 5 }, 5],
    ]);
  });

  it("cancel and my reservations take the verified user: `me` in the path, no userId in the body; another user is 403 USER_MISMATCH", async () => {
    const headers = bearer(await mint(keyA, "5"));
    expect((await call(gw.url, "GET", "/api/users/me/reservations?limit=2", { headers })).status).toBe(200);
    expect((await call(gw.url, "POST", "/api/reservations/12/cancel", { body: {}, headers })).status).toBe(200);
    const other = await call(gw.url, "POST", "/api/reservations/12/cancel", { body: { userId: 6 }, headers });
    const otherList = await call(gw.url, "GET", "/api/users/6/reservations", { headers });
    const none = await call(gw.url, "GET", "/api/users/5/reservations");
    expect([other.status, other.body.error?.code, otherList.status, otherList.body.error?.code]).toEqual([
      403,
      "USER_MISMATCH",
      403,
      "USER_MISMATCH",
    ]);
    expect([none.status, none.body.error?.code]).toEqual([401, "AUTH_REQUIRED"]);
    expect(booking.seen.map((s) => [s.method, s.path, s.body, s.passport.userId])).toEqual([
      ["GET", "/api/users/5/reservations?limit=2", undefined, 5],
      ["POST", "/api/reservations/12/cancel", { userId: 5 }, 5],
    ]);
  });

  it("accepts a key rotated into the JWKS without a restart (an unknown kid refetches)", async () => {
    expect((await issue(bearer(await mint(keyA, "5")))).status).toBe(200);
    const fetched = jwks.fetches;
    expectInvalid(await issue(bearer(await mint(keyB, "5")))); // not published yet: refetched, still unknown
    expect(jwks.fetches).toBe(fetched + 1);
    jwks.keys = [keyA, keyB];
    expect((await issue(bearer(await mint(keyB, "5")))).status).toBe(200);
    expect(jwks.fetches).toBe(fetched + 2);
  });

  it("keeps accepting the last key set loaded while the JWKS endpoint is down, even past its max age; an unknown key is refused", async () => {
    expect((await issue(bearer(await mint(keyA, "5")))).status).toBe(200);
    jwks.up = false;
    // jose's clock past AUTH_JWKS_CACHE_MAX_AGE_SEC (600 s): it refetches, which fails
    const later = Date.now() + 601_000;
    jest.spyOn(Date, "now").mockReturnValue(later);
    const fetched = jwks.fetches;
    const exp = Math.floor(later / 1000) + 3600;
    expect((await issue(bearer(await mint(keyA, "5", { exp })))).status).toBe(200);
    expect(jwks.fetches).toBeGreaterThan(fetched); // it did try
    expectInvalid(await issue(bearer(await mint(keyB, "5", { exp }))));
    jwks.up = true;
    jwks.keys = [keyA, keyB];
    expect((await issue(bearer(await mint(keyB, "5", { exp })))).status).toBe(200); // back: rotation works again
  });
});

describe("AUTH_MODE=jwt: the key sources", () => {
  let keyA: TestKey;
  beforeAll(async () => {
    keyA = await testKey("a", "RS256");
  });

  it("refetches an unknown kid at most once per AUTH_JWKS_COOLDOWN_SEC", async () => {
    const jwks = await startJwks([keyA]);
    const gw = await startGateway(jwtEnv(jwks));
    try {
      const other = await testKey("x", "ES256");
      expect((await call(gw.url, "POST", "/api/users/token", { body: {}, headers: bearer(await mint(keyA, "5")) })).status).toBe(200);
      for (let i = 0; i < 5; i++) {
        const r = await call(gw.url, "POST", "/api/users/token", { body: {}, headers: bearer(await mint(other, "5")) });
        expect([r.status, r.body.error.code]).toEqual([401, "AUTH_INVALID"]);
      }
      expect(jwks.fetches).toBe(1);
    } finally {
      await gw.close();
      await jwks.close();
    }
  });

  it("answers 503 SERVICE_UNAVAILABLE (identity) with Retry-After while no key set was ever loaded", async () => {
    const gw = await startGateway(jwtEnv({ url: `http://127.0.0.1:${await closedPort()}/jwks.json` }));
    try {
      const r = await call(gw.url, "POST", "/api/users/token", { body: {}, headers: bearer(await mint(keyA, "5")) });
      expect([r.status, r.body.error.code, r.body.error.details]).toEqual([503, "SERVICE_UNAVAILABLE", { dependency: "identity" }]);
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    } finally {
      await gw.close();
    }
  });

  it("verifies with AUTH_PUBLIC_KEY (a PEM) and refuses a token of any other key", async () => {
    const ec = await testKey("ec", "ES256");
    const gw = await startGateway({ AUTH_MODE: "jwt", AUTH_PUBLIC_KEY: ec.spki, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE });
    try {
      const ok = await call(gw.url, "POST", "/api/users/token", { body: {}, headers: bearer(await mint(ec, "7")) });
      const other = await call(gw.url, "POST", "/api/users/token", { body: {}, headers: bearer(await mint(keyA, "7")) });
      expect([ok.status, other.status, other.body.error.code]).toEqual([200, 401, "AUTH_INVALID"]);
    } finally {
      await gw.close();
    }
  });

  it("limits token requests per verified user (TOKEN_RATE_LIMIT_PER_USER) as well as per address", async () => {
    const jwks = await startJwks([keyA]);
    const gw = await startGateway(jwtEnv(jwks, { TOKEN_RATE_LIMIT_PER_USER: "2" }));
    try {
      // the hot path takes plain JSON; a content type with another parameter goes to Express's form of the route
      const express = { "content-type": "application/json; charset=utf-8; profile=x" };
      const as = async (user: string, headers: Record<string, string> = {}) =>
        (
          await call(gw.url, "POST", "/api/users/token", {
            rawBody: "{}",
            headers: { "content-type": "application/json", ...headers, ...bearer(await mint(keyA, user)) },
          })
        ).status;
      expect([await as("5"), await as("5", express), await as("5"), await as("5", express), await as("6", express)]).toEqual([
        200, 200, 429, 429, 200,
      ]);
    } finally {
      await gw.close();
      await jwks.close();
    }
  });
});

describe("BearerVerifier's cache of verified bearers", () => {
  let key: TestKey;
  let publicKey: Awaited<ReturnType<typeof importJWK>>;
  beforeAll(async () => {
    key = await testKey("a", "RS256");
    publicKey = await importJWK(key.jwk, "RS256");
  });

  /** A verifier over one key that counts the signature checks it makes. */
  function verifier(now: () => number, cache = { size: 100, maxAgeMs: 60_000 }) {
    const checks = { n: 0 };
    const v = new BearerVerifier({
      keys: async () => {
        checks.n++;
        return publicKey;
      },
      issuer: ISSUER,
      audience: AUDIENCE,
      userClaim: "sub",
      algorithms: ["RS256"],
      clockToleranceSec: 0,
      cache,
      logger: createLogger("gateway", "silent"),
      now,
    });
    return { v, checks };
  }

  it("answers a verified bearer again without checking its signature, never past its exp nor the max age", async () => {
    const clock = testClock();
    const { v, checks } = verifier(clock.now);
    const exp = Math.floor(clock.now() / 1000) + 30;
    const jwt = await mint(key, "9", { exp, iat: Math.floor(clock.now() / 1000) });
    expect([await v.verify(jwt), await v.verify(jwt), checks.n]).toEqual([9, 9, 1]);
    clock.advance(31_000); // past exp: checked again, and refused
    await expect(v.verify(jwt)).rejects.toMatchObject({ code: "AUTH_INVALID" });
    expect(checks.n).toBe(2);

    const long = await mint(key, "9", { exp: Math.floor(clock.now() / 1000) + 3600 });
    await v.verify(long);
    clock.advance(60_001); // past the cache's max age: checked again (and still valid)
    expect([await v.verify(long), checks.n]).toEqual([9, 4]);
  });

  it("keeps at most `size` entries, forgetting the oldest", async () => {
    const clock = testClock();
    const { v, checks } = verifier(clock.now, { size: 2, maxAgeMs: 60_000 });
    const exp = Math.floor(clock.now() / 1000) + 3600;
    const [t1, t2, t3] = await Promise.all(["1", "2", "3"].map((u) => mint(key, u, { exp })));
    for (const t of [t1, t2, t3, t3, t2, t1]) await v.verify(t);
    expect(checks.n).toBe(4); // t1, t2, t3, then t1 again (the oldest, forgotten)
  });
});

describe("AUTH_MODE=none and the OpenAPI document", () => {
  it("keeps `me` a 400 in none mode (the request names its user; nothing is verified)", async () => {
    const gw = await startGateway();
    try {
      const r = await call(gw.url, "GET", "/api/users/me/token", { headers: { token: "00000000-0000-8000-8000-000000000001" } });
      expect([r.status, r.body.error.code]).toEqual([400, "VALIDATION_FAILED"]);
      expect((await call(gw.url, "POST", "/api/users/token", { body: { userId: 6 } })).status).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it("documents the bearer scheme on exactly the table's verifiedUser routes, with their 401 and 403", () => {
    const doc = buildOpenApiDocument() as any;
    expect(doc.components.securitySchemes[BEARER_SCHEME]).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
    for (const route of ROUTE_TABLE) {
      const op = doc.paths[openApiPath(route.path)][route.method];
      const expected = route.verifiedUser ? [{ [BEARER_SCHEME]: [] }] : undefined;
      expect([route.name, op.security]).toEqual([route.name, expected]);
      if (route.verifiedUser) expect([route.name, "401" in op.responses, "403" in op.responses]).toEqual([route.name, true, true]);
    }
    expect(ROUTE_TABLE.filter((r) => !r.verifiedUser).map((r) => r.name)).toEqual(["queueStream"]);
  });
});
