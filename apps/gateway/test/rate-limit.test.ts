import { call, startGateway } from "./helpers";

describe("token issuance rate limit", () => {
  it("answers 429 RATE_LIMITED with Retry-After past the limit, across two instances sharing Redis, and queues nobody", async () => {
    const env = { TOKEN_RATE_LIMIT: "3", TOKEN_RATE_WINDOW_SEC: "60", QUEUE_NAME: `rl-${process.pid}-${Date.now()}` };
    const a = await startGateway(env);
    const b = await startGateway(env);
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await call([a, b][i % 2].url, "POST", "/api/users/token", { body: { userId: i + 1 } })).status);
      expect(statuses).toEqual([200, 200, 200]);
      const over = await call(b.url, "POST", "/api/users/token", { body: { userId: 99 } });
      expect(over.status).toBe(429);
      expect(over.body).toMatchObject({ result: null, error: { code: "RATE_LIMITED" } });
      expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
      expect((await a.gateway.store.counts()).waiting).toBe(3);
      // polling is not limited
      expect((await call(a.url, "GET", "/api/users/99/token", { headers: { token: "6f1c3b1e-8d7a-4a3c-9d2e-1f0a9b8c7d6e" } })).status).toBe(401);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
