import { until } from "@concert/test-support";
import { call, startGateway, startRedisServer } from "./helpers";

describe("when Redis goes down", () => {
  it("answers 503 with Retry-After while it is down and recovers by itself when it returns", async () => {
    const redis = await startRedisServer();
    const gw = await startGateway({ REDIS_URL: redis.url });
    try {
      const before = await call(gw.url, "POST", "/api/users/token", { body: { userId: 1 } });
      expect(before.status).toBe(200);

      await redis.stop();
      const started = Date.now();
      const down = await call(gw.url, "POST", "/api/users/token", { body: { userId: 2 } });
      expect(down.status).toBe(503);
      expect(down.headers.get("retry-after")).toBe("1");
      expect(down.body).toMatchObject({ result: null, error: { code: "SERVICE_UNAVAILABLE", details: { dependency: "redis" } } });
      expect(Date.now() - started).toBeLessThan(3000);
      const ready = await call(gw.url, "GET", "/ready");
      expect(ready.status).toBe(503);
      expect(await gw.gateway.ticker.runOnce()).toBeNull(); // the tick fails quietly and will retry

      const again = await startRedisServer(redis.port);
      try {
        const { status } = await until(
          () => call(gw.url, "POST", "/api/users/token", { body: { userId: 3 } }),
          (r) => r.status === 200,
          5000,
          100,
        );
        expect(status).toBe(200);
        // Redis kept nothing: the old token is unknown now and its owner can queue again
        const lost = await call(gw.url, "GET", "/api/users/1/token", { headers: { token: before.body.result.token } });
        expect([lost.status, lost.body.error.code]).toEqual([401, "TOKEN_INVALID"]);
        expect((await call(gw.url, "GET", "/ready")).status).toBe(200);
      } finally {
        await gw.close();
        await again.stop();
      }
    } finally {
      await redis.stop();
    }
  });
});
