import { startRedisServer } from "@concert/test-support";
import { call, holdAsNewUser, newConcert, passport, reserveIdBlock, startBooking, until, type Booking } from "./support/booking";

reserveIdBlock();

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
    const redis = await startRedisServer();
    const inst: Booking = await until(
      () => startBooking({ redisUrl: redis.url }).catch(() => null as unknown as Booking),
      (b) => b !== null,
    );
    try {
      const { detailIds } = await newConcert(inst.db);
      const hold = (seatId: number) => holdAsNewUser(inst, detailIds[0], seatId);
      expect((await hold(1)).status).toBe(201);

      await redis.kill();
      const r = await until(
        () => hold(2),
        (x) => x.status === 503,
      );
      expect([r.status, r.body.error?.code, r.headers.get("retry-after")]).toEqual([503, "SERVICE_UNAVAILABLE", "1"]);
      expect((await call(inst.url, "GET", "/ready", { auth: false })).status).toBe(503);
      expect(await inst.db.reservation.count({ where: { concertDetailId: detailIds[0], seatNo: 2 } })).toBe(0);

      await redis.restart();
      const back = await until(
        () => hold(2),
        (x) => x.status === 201,
      );
      expect(back.status).toBe(201);
      expect((await call(inst.url, "GET", "/ready", { auth: false })).status).toBe(200);
    } finally {
      await inst.close();
      await redis.kill();
    }
  });
});
