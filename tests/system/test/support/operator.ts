import { call, type Reply } from "./client";
import type { System } from "./harness";

const inFuture = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

export interface ConcertOptions {
  name?: string;
  seatPrice?: number;
  /** how many dates, one a day from a week ahead */
  dates?: number;
  /** the room of its own (none: served by the general room) */
  room?: Record<string, unknown>;
}

/**
 * The operator routes as the room scenarios use them: ADMIN_TOKEN's bearer on one of the system's
 * gateways (`system` is read at call time: the scenario starts it in beforeAll).
 */
export function operator(system: () => System, adminToken: string) {
  const admin = (method: string, path: string, body?: unknown, i = 0): Promise<Reply> => {
    const { gateways } = system();
    return call(gateways[i % gateways.length].url, method, path, { body, headers: { authorization: `Bearer ${adminToken}` } });
  };
  /** POST /admin/concerts; expects 201 and gives its answer */
  const createConcert = async (o: ConcertOptions = {}): Promise<{ concertId: number; concertDetailIds: number[] }> => {
    const r = await admin("POST", "/admin/concerts", {
      name: o.name ?? `Concert ${Math.random().toString(36).slice(2, 6)}`,
      seatPrice: o.seatPrice ?? 1000,
      dates: Array.from({ length: o.dates ?? 1 }, (_, i) => inFuture(7 + i)),
      ...(o.room && { room: o.room }),
    });
    expect(r.status).toBe(201);
    return r.body.result as { concertId: number; concertDetailIds: number[] };
  };
  return { admin, createConcert };
}
