import type { IncomingMessage } from "node:http";
import { DependencyError, createRedis } from "@concert/shared";
import { ClientRateLimiter } from "../src/api/rate-limit";
import { closedPort } from "./helpers";

describe("the token rate limiter when Redis is unreachable", () => {
  it("fails with DependencyError(redis), not the driver's error, so nothing has to read its message", async () => {
    const redis = createRedis(`redis://127.0.0.1:${await closedPort()}`);
    try {
      const limiter = new ClientRateLimiter(redis, { limit: 5, windowSec: 60, prefix: "rl:unreachable" }, () => "127.0.0.1");
      const failure: unknown = await limiter.consume({} as IncomingMessage).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(DependencyError);
      expect((failure as DependencyError).dependency).toBe("redis");
    } finally {
      redis.disconnect();
    }
  });
});
