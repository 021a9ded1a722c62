import type { Request, Response } from "express";
import { AppError, ROUTES, type QueueStore } from "@concert/shared";
import { forwardHandlers } from "../src/api/forward-routes";
import { ROUTE_TABLE, type GatewayRoute } from "../src/api/route-table";
import type { Forwarder } from "../src/forward/forwarder";

const TOKEN = "6f1c3b1e-8d7a-4a3c-9d2e-1f0a9b8c7d6e";
const entry = (name: GatewayRoute["name"]) => ROUTE_TABLE.find((r) => r.name === name)!;

/** The forward handler of `route` with a store whose token is a replay (used for a payment) of user 1. */
async function forwardWithReplayToken(route: GatewayRoute): Promise<unknown> {
  const forwarded: unknown[] = [];
  const store = { authorize: () => Promise.resolve({ userId: 1, replay: true }) } as unknown as QueueStore;
  const forwarder = { forward: (_req: unknown, _res: unknown, identity: unknown) => Promise.resolve(void forwarded.push(identity)) };
  const handler = forwardHandlers({ store, forwarder: forwarder as unknown as Forwarder })(route);
  const req = { method: route.method.toUpperCase(), headers: { token: TOKEN }, body: { userId: 1 } } as unknown as Request;
  const res = { locals: {}, headersSent: true, statusCode: 200 } as unknown as Response;
  try {
    await handler(req, res, () => undefined);
    return forwarded;
  } catch (err) {
    return err instanceof AppError ? err.code : err;
  }
}

describe("forward handlers built from the route table", () => {
  it("let a used token through only on routes allowed in the payment replay window", async () => {
    expect(await forwardWithReplayToken(entry("pay"))).toEqual([{ userId: 1, queueToken: TOKEN, replay: true }]);
    expect(await forwardWithReplayToken(entry("holdSeat"))).toBe("TOKEN_INVALID");
    // the flag decides, not the path
    expect(await forwardWithReplayToken({ ...entry("pay"), replayWindow: undefined })).toBe("TOKEN_INVALID");
    expect(await forwardWithReplayToken({ ...entry("concertDates"), replayWindow: true })).toHaveLength(1);
  });

  it("flag the replay window and the seat gate on exactly the routes of today", () => {
    expect(ROUTE_TABLE.filter((r) => r.replayWindow).map((r) => ROUTES[r.name].path)).toEqual(["/api/payment"]);
    expect(ROUTE_TABLE.filter((r) => r.seatGate).map((r) => ROUTES[r.name].path)).toEqual(["/api/reservations"]);
  });
});
