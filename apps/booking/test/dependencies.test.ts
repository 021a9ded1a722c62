import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { call, newConcert, nextId, passport, sleep, startBooking, type Booking } from "./support/booking";

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function startRedis(port: number): ChildProcess {
  return spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 5_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await sleep(50);
  }
}

describe("dependencies down", () => {
  it("when Postgres is unreachable, every data route is 503 SERVICE_UNAVAILABLE with Retry-After, and /ready is 503", async () => {
    const down = await startBooking({ databaseUrl: "postgresql://postgres@127.0.0.1:1/postgres" });
    try {
      const user = 5;
      for (const [method, path, body] of [
        ["GET", "/api/concert/1/date"],
        ["GET", "/api/concert/1/seat"],
        ["POST", "/api/reservations", { concertDetailId: 1, userId: user, seatId: 44 }],
        ["PATCH", "/api/users/point", { userId: user, point: 1 }],
        ["GET", `/api/users/${user}/point`],
        ["POST", "/api/payment", { userId: user, reservationId: 1 }],
        ["GET", "/ready"],
      ] as [string, string, unknown?][]) {
        const r = await call(down.url, method, path, { body, auth: passport({ userId: user }) });
        expect([path, r.status, r.body.error?.code, r.headers.get("retry-after")]).toEqual([path, 503, "SERVICE_UNAVAILABLE", "1"]);
      }
    } finally {
      await down.close();
    }
  });

  it("when Redis goes down, holds are 503 with Retry-After, and they work again by themselves when it returns", async () => {
    const port = await freePort();
    let redis = startRedis(port);
    const inst: Booking = await until(
      () => startBooking({ redisUrl: `redis://127.0.0.1:${port}` }).catch(() => null as unknown as Booking),
      (b) => b !== null,
    );
    try {
      const { detailIds } = await newConcert(inst.db);
      const hold = (seatId: number) => {
        const userId = nextId();
        return call(inst.url, "POST", "/api/reservations", {
          auth: passport({ userId }),
          body: { concertDetailId: detailIds[0], userId, seatId },
        });
      };
      expect((await hold(1)).status).toBe(201);

      redis.kill("SIGKILL");
      await new Promise((r) => redis.once("exit", r));
      const r = await until(
        () => hold(2),
        (x) => x.status === 503,
      );
      expect([r.status, r.body.error?.code, r.headers.get("retry-after")]).toEqual([503, "SERVICE_UNAVAILABLE", "1"]);
      expect((await call(inst.url, "GET", "/ready", { auth: false })).status).toBe(503);
      expect(await inst.db.reservation.count({ where: { concertDetailId: detailIds[0], seatNo: 2 } })).toBe(0);

      redis = startRedis(port);
      const back = await until(
        () => hold(2),
        (x) => x.status === 201,
      );
      expect(back.status).toBe(201);
      expect((await call(inst.url, "GET", "/ready", { auth: false })).status).toBe(200);
    } finally {
      await inst.close();
      redis.kill("SIGKILL");
    }
  });
});
