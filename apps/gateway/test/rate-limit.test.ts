import { call, startGateway } from "./helpers";

describe("token issuance rate limit", () => {
  it("answers 429 RATE_LIMITED with Retry-After past the limit, across two instances sharing Redis, and queues nobody", async () => {
    const env = { TOKEN_RATE_LIMIT: "3", TOKEN_RATE_WINDOW_SEC: "60", QUEUE_NAME: `rl-${process.pid}-${Date.now()}` };
    const a = await startGateway(env);
    const b = await startGateway(env);
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await call([a, b][i % 2].url, "POST", "/api/users/token", { body: { userId: i + 1 } })).status);
      expect(statuses).toEqual([200, 200, 200]);
      const over = await call(b.url, "POST", "/api/users/token", { body: { userId: 99 } });
      expect(over.status).toBe(429);
      expect(over.body).toMatchObject({ result: null, error: { code: "RATE_LIMITED" } });
      expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
      expect((await a.gateway.store.counts()).waiting).toBe(3);
      // polling is not limited
      expect((await call(a.url, "GET", "/api/users/99/token", { headers: { token: "6f1c3b1e-8d7a-4a3c-9d2e-1f0a9b8c7d6e" } })).status).toBe(
        401,
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("names the client by X-Forwarded-For only when TRUST_PROXY trusts the hop", async () => {
    const name = `rl-xff-${process.pid}-${Date.now()}`;
    const issue = (gw: { url: string }, userId: number, xff: string) =>
      call(gw.url, "POST", "/api/users/token", { body: { userId }, headers: { "x-forwarded-for": xff } }).then((r) => r.status);
    const trusting = await startGateway({ TOKEN_RATE_LIMIT: "1", QUEUE_NAME: `${name}-a`, TRUST_PROXY: "1" });
    const ignoring = await startGateway({ TOKEN_RATE_LIMIT: "1", QUEUE_NAME: `${name}-b` });
    try {
      // behind a trusted proxy: two clients, one token each; the same client again is refused
      expect([
        await issue(trusting, 1, "203.0.113.1"),
        await issue(trusting, 2, "203.0.113.2"),
        await issue(trusting, 3, "203.0.113.1"),
      ]).toEqual([200, 200, 429]);
      expect((await trusting.gateway.store.counts()).waiting).toBe(2);
      // not trusted: the header is ignored, every request is 127.0.0.1
      expect([await issue(ignoring, 1, "198.51.100.1"), await issue(ignoring, 2, "198.51.100.2")]).toEqual([200, 429]);
      expect((await ignoring.gateway.store.counts()).waiting).toBe(1);
    } finally {
      await trusting.close();
      await ignoring.close();
    }
  });
});
