import { fail, ok } from "@concert/shared";
import type { Cluster, Redis } from "ioredis";
import { Router } from "express";
import type { Db } from "../db/client";

const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error("timeout")), ms).unref())]);

/** /health: the process is up. /ready: Postgres and Redis answer (no passport needed). */
export function healthRoutes(db: Db, redis: Redis | Cluster): Router {
  const r = Router();
  r.get("/health", (_req, res) => {
    res.json(ok({ status: "ok" }));
  });
  r.get("/ready", async (_req, res) => {
    const [postgres, redisUp] = await Promise.all([
      withTimeout(db.$queryRaw`SELECT 1`, 2_000).then(
        () => true,
        () => false,
      ),
      withTimeout(redis.ping(), 2_000).then(
        () => true,
        () => false,
      ),
    ]);
    const checks = { postgres: postgres ? "up" : "down", redis: redisUp ? "up" : "down" };
    if (postgres && redisUp) {
      res.json(ok({ status: "ready", ...checks }));
    } else {
      res.setHeader("Retry-After", "1");
      res.status(503).json(fail("SERVICE_UNAVAILABLE", "a dependency is down", checks));
    }
  });
  return r;
}
