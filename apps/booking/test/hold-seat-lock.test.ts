import { DependencyError, createLogger, type QueueTokens } from "@concert/shared";
import type Redlock from "redlock";
import type { ReservationsRepository } from "../src/db/reservations.repository";
import { holdSeat, type HoldSeatDeps } from "../src/reservations/hold-seat";
import type { SeatGate } from "../src/reservations/seat-gate";

/** holdSeat's dependencies around the given fakes (no Redis, no database). */
const holdDeps = (gate: SeatGate, reservations: ReservationsRepository, redlock: Redlock): HoldSeatDeps => ({
  reservations,
  gate,
  redlock,
  queueStore: {} as QueueTokens,
  logger: createLogger("hold-seat-test", "silent"),
  holdTtlMs: 1_000,
  maxHoldsPerUser: 4,
});

describe("holdSeat when Redlock cannot get the user's lock", () => {
  it("is DependencyError(redis) with Redlock's error as cause, touches no row, and gives the seat's gate back", async () => {
    const quorumLost = Object.assign(new Error("The operation was unable to achieve a quorum during its retry window."), {
      name: "ExecutionError",
    });
    const released: string[] = [];
    const gate = {
      keys: { userHoldsLock: (userId: number) => `lock:${userId}` },
      claim: () => Promise.resolve({ owner: "p:owner" }),
      releaseAll: (_d: number, _s: number[], owner: string) => {
        released.push(owner);
        return Promise.resolve();
      },
    } as unknown as SeatGate;
    const reservations = {
      holdSeats: () => Promise.reject(new Error("must not be reached")),
    } as unknown as ReservationsRepository;
    const redlock = { acquire: () => Promise.reject(quorumLost) } as unknown as Redlock;

    const attempt = holdSeat(holdDeps(gate, reservations, redlock), { userId: 1, concertDetailId: 2, seatNos: [3] });
    await expect(attempt).rejects.toBeInstanceOf(DependencyError);
    await expect(attempt).rejects.toMatchObject({ dependency: "redis", status: 503, cause: quorumLost });
    expect(released).toEqual(["p:owner"]);
  });
});

describe("holdSeat asks for the seat's gate and the user's lease at once", () => {
  it("a seat already claimed in the gate is 409, touches no row, and gives the lease it got back", async () => {
    const events: string[] = [];
    const gate = {
      keys: { userHoldsLock: (userId: number) => `lock:${userId}` },
      claim: () => Promise.resolve({ taken: [3] }),
      releaseAll: () => Promise.reject(new Error("no gate key of ours to release")),
    } as unknown as SeatGate;
    const reservations = { holdSeats: () => Promise.reject(new Error("must not be reached")) } as unknown as ReservationsRepository;
    const redlock = {
      acquire: () => {
        events.push("acquired");
        return Promise.resolve({ expiration: Date.now() + 8_000, release: () => (events.push("released"), Promise.resolve()) });
      },
    } as unknown as Redlock;

    const attempt = holdSeat(holdDeps(gate, reservations, redlock), { userId: 1, concertDetailId: 2, seatNos: [3] });
    await expect(attempt).rejects.toMatchObject({ code: "SEAT_UNAVAILABLE", status: 409 });
    expect(events).toEqual(["acquired", "released"]);
  });
});

describe("holdSeat's transaction and the Redlock lease", () => {
  const gate = {
    keys: { userHoldsLock: (userId: number) => `lock:${userId}` },
    claim: () => Promise.resolve({ owner: "p:owner" }),
    releaseAll: () => Promise.resolve(),
  } as unknown as SeatGate;

  async function deadlineGiven(leaseEnd: number, callerDeadline?: number): Promise<number> {
    let given = 0;
    const reservations = {
      holdSeats: (input: { deadline: number }) => {
        given = input.deadline;
        return Promise.resolve(null);
      },
      explainRefusal: () => Promise.resolve({ why: "SEAT_UNAVAILABLE", seatNos: [3] }),
    } as unknown as ReservationsRepository;
    const redlock = { acquire: () => Promise.resolve({ expiration: leaseEnd, release: () => Promise.resolve() }) } as unknown as Redlock;
    await holdSeat(holdDeps(gate, reservations, redlock), { userId: 1, concertDetailId: 2, seatNos: [3], deadline: callerDeadline }).catch(
      () => {},
    );
    return given;
  }

  it("ends before the lease does when the caller would wait longer, and before the caller's deadline otherwise", async () => {
    const now = Date.now();
    expect(await deadlineGiven(now + 1_000, now + 5_000)).toBe(now + 1_000);
    expect(await deadlineGiven(now + 8_000, now + 2_000)).toBe(now + 2_000);
    expect(await deadlineGiven(now + 8_000)).toBe(now + 8_000);
  });
});
