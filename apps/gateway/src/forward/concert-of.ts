import { AppError, DependencyError, INTERNAL_PATHS, concertOfView, type RouteName } from "@concert/shared";
import type { Forwarder } from "./forwarder";

/** Most ids kept (a performance or reservation never changes concert, so entries never go stale; only the bound matters). */
const MAX_ENTRIES = 200_000;

/**
 * Which concert a performance (`concertDetailId`) or a reservation belongs to: asked of booking
 * once (INTERNAL_PATHS.concertOf, one call for every id a request names) and then kept, since it
 * never changes. An id booking does not know is not kept: the request goes on and booking answers it (404).
 * The requests that need an id while it is being looked up wait for that lookup instead of
 * sending their own: the rush onto a performance nobody asked about yet costs booking one call,
 * not one per request in flight.
 */
export class ConcertOf {
  private readonly details = new Map<number, number>();
  private readonly reservations = new Map<number, number>();
  /** the lookups in flight, by the ids they ask about */
  private readonly pendingDetails = new Map<number, Promise<void>>();
  private readonly pendingReservations = new Map<number, Promise<void>>();

  constructor(private readonly forwarder: Forwarder) {}

  /** A reservation's concert, learnt from a hold answer (saves the lookup when it is paid or released). */
  learnReservation(reservationId: number, concertId: number): void {
    remember(this.reservations, reservationId, concertId);
  }

  /** A performance's concert, as known already (no lookup). */
  knownDetail(concertDetailId: number): number | undefined {
    return this.details.get(concertDetailId);
  }

  /** The concerts of these performances and reservations (those that exist). */
  async of(detailIds: number[], reservationIds: number[]): Promise<number[]> {
    const unasked = (ids: number[], known: Map<number, number>, pending: Map<number, Promise<void>>) => [
      ...new Set(ids.filter((id) => !known.has(id) && !pending.has(id))),
    ];
    const missingD = unasked(detailIds, this.details, this.pendingDetails);
    const missingR = unasked(reservationIds, this.reservations, this.pendingReservations);
    if (missingD.length || missingR.length) {
      const lookup = this.lookup(missingD, missingR).finally(() => {
        for (const id of missingD) this.pendingDetails.delete(id);
        for (const id of missingR) this.pendingReservations.delete(id);
      });
      lookup.catch(() => {}); // each waiter below gets its failure
      for (const id of missingD) this.pendingDetails.set(id, lookup);
      for (const id of missingR) this.pendingReservations.set(id, lookup);
    }
    const waits = new Set([
      ...detailIds.flatMap((id) => this.pendingDetails.get(id) ?? []),
      ...reservationIds.flatMap((id) => this.pendingReservations.get(id) ?? []),
    ]);
    if (waits.size) await Promise.all(waits); // none: every id known, no wait
    const found = [
      ...detailIds.flatMap((id) => this.details.get(id) ?? []),
      ...reservationIds.flatMap((id) => this.reservations.get(id) ?? []),
    ];
    return [...new Set(found)];
  }

  /** One call to booking for these ids; what it answers is kept. */
  private async lookup(detailIds: number[], reservationIds: number[]): Promise<void> {
    const q = new URLSearchParams();
    if (detailIds.length) q.set("details", detailIds.join(","));
    if (reservationIds.length) q.set("reservations", reservationIds.join(","));
    const reply = await this.forwarder.operatorCall("GET", `${INTERNAL_PATHS.concertOf}?${q.toString().replace(/%2C/g, ",")}`);
    const view = concertOfView.safeParse(reply.envelope.result);
    if (reply.status !== 200 || !view.success) {
      throw new DependencyError("booking", { cause: new Error(`concert lookup answered ${reply.status}`) });
    }
    for (const [id, c] of Object.entries(view.data.details)) remember(this.details, Number(id), c);
    for (const [id, c] of Object.entries(view.data.reservations)) remember(this.reservations, Number(id), c);
  }
}

function remember(map: Map<number, number>, id: number, concertId: number): void {
  if (map.size >= MAX_ENTRIES) map.clear();
  map.set(id, concertId);
}

const idOf = (v: unknown): number | undefined => (typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : undefined);
const idParamOf = (v: unknown): number | undefined => (typeof v === "string" && /^[1-9][0-9]{0,9}$/.test(v) ? idOf(Number(v)) : undefined);

/**
 * The concerts a token route's request is about, from its path or body: the dates' concertId
 * itself; a seat list's or a hold's performance; a payment's or a release's reservations. Ids
 * that do not parse are left to booking's 400.
 */
export async function concertsOfRequest(
  name: RouteName,
  req: { params: Record<string, string>; body: unknown },
  concertOf: ConcertOf,
): Promise<number[]> {
  const body = (req.body ?? {}) as Record<string, unknown>;
  switch (name) {
    case "concertDates": {
      const id = idParamOf(req.params.concertId);
      return id === undefined ? [] : [id];
    }
    case "freeSeats": {
      const id = idParamOf(req.params.concertDetailId);
      return id === undefined ? [] : concertOf.of([id], []);
    }
    case "holdSeat": {
      const id = idOf(body.concertDetailId);
      return id === undefined ? [] : concertOf.of([id], []);
    }
    case "pay": {
      const ids = Array.isArray(body.reservationIds) ? body.reservationIds.map(idOf) : [idOf(body.reservationId)];
      const valid = ids.filter((x): x is number => x !== undefined).slice(0, 50);
      return valid.length ? concertOf.of([], valid) : [];
    }
    case "releaseHold": {
      const id = idParamOf(req.params.reservationId);
      return id === undefined ? [] : concertOf.of([], [id]);
    }
    default:
      return [];
  }
}

/** 403 TOKEN_WRONG_CONCERT: the token's room is not the room that serves the concert. */
export function wrongConcert(tokenRoom: number | null, concertId: number): AppError {
  return new AppError(
    "TOKEN_WRONG_CONCERT",
    tokenRoom === null
      ? `Concert ${concertId} has a waiting room of its own: queue for it (POST /api/users/token with its concertId)`
      : `This queue token is for concert ${tokenRoom}'s waiting room; concert ${concertId} needs a token of its own`,
    { concertId, tokenConcertId: tokenRoom },
  );
}
