/**
 * The seat-availability read model (issue 16): what the gateway answers the seat map and the
 * dates of a concert from, without crossing to booking. Booking owns the keys and writes them
 * (apps/booking/src/seat-map/) in the same code path as every change of a seat's state, after
 * Postgres committed it; the gateway only reads them (apps/gateway/src/forward/seat-map-reader.ts).
 * Postgres stays the truth and still decides every hold: the model only answers reads.
 *
 *   booking:<queueName>:seatmap:{<concertDetailId>}   hash, one performance
 *     "<seatNo>"  "<version>:<state>"  state F (free), S (sold), H<untilMs> (held until, ms; free after)
 *     "at"        starts_at, ms          "price"  seat price          "ready"  "1" once built from Postgres
 *     "view"      what the gateway reads, rewritten by every write once ready (readSeatView)
 *   booking:<queueName>:concert:{<concertId>}         hash, one concert: "name", "dates" (its performance ids, by start)
 *
 * A seat's version orders its states: reservation r held = 4r+1, sold = 4r+2, ended (released,
 * expired, cancelled) = 4r+3; a seat no reservation has touched = 0. A write only replaces an
 * older version, so writes arriving out of order and a rebuild racing a change cannot bring a
 * seat's old state back. A map without "ready" (a change written before any rebuild) is not
 * served: the gateway forwards, and booking rebuilds it. Both keys expire (SEAT_MAP_TTL_SEC), so
 * a write lost to a Redis failure heals at the next rebuild.
 */

/** How long a built seat map or concert entry lives before it is rebuilt from Postgres. */
export const SEAT_MAP_TTL_SEC = 60;

/**
 * How long one gateway instance reuses a concert's dates answer (it reads every date's map, the
 * costliest read): well inside the 100 ms in which every instance must show a change. The seat
 * map of a date is never reused: it is read fresh on every request.
 */
export const DATES_REUSE_MS = 50;

export interface SeatMapKeys {
  performance(concertDetailId: number): string;
  concert(concertId: number): string;
}

export function seatMapKeys(prefix: string): SeatMapKeys {
  return {
    performance: (concertDetailId) => `${prefix}:seatmap:{${concertDetailId}}`,
    concert: (concertId) => `${prefix}:concert:{${concertId}}`,
  };
}

/** A seat's state in the model. */
export type SeatMapState = { state: "FREE" } | { state: "SOLD" } | { state: "HELD"; untilMs: number };

/** One seat's entry: its state and the version that orders it. */
export interface SeatMapEntry {
  seatNo: number;
  version: number;
  seat: SeatMapState;
}

const PHASE = { HELD: 1, SOLD: 2, ENDED: 3 } as const;

/** The version of a seat's state: reservation `reservationId` held / sold / ended (null: never touched). */
export function seatVersion(reservationId: number | null, phase: keyof typeof PHASE): number {
  return reservationId === null ? 0 : reservationId * 4 + PHASE[phase];
}

export function encodeSeatState(s: SeatMapState): string {
  return s.state === "FREE" ? "F" : s.state === "SOLD" ? "S" : `H${s.untilMs}`;
}

/**
 * A map's `view` (what the gateway reads: one string the write script keeps,
 * "<startsAtMs>;<price>;<free seats, ascending>;<seat>:<heldUntilMs>,...") → the performance's
 * start (ms), price and free seats at `nowMs`, ascending: the free ones and those whose hold ran
 * out (as booking's seat-sql.ts counts them), none once it has started. null: not built.
 */
export function readSeatView(view: string | null | undefined, nowMs: number): { startsAtMs: number; price: number; free: number[] } | null {
  if (!view) return null;
  const [at, price, freeList, heldList] = view.split(";");
  const startsAtMs = Number(at);
  let free: number[] = [];
  if (startsAtMs > nowMs) {
    free = freeList === "" ? [] : freeList.split(",").map(Number);
    if (heldList !== "") {
      let ranOut = false;
      for (const held of heldList.split(",")) {
        const colon = held.indexOf(":");
        if (Number(held.slice(colon + 1)) <= nowMs) {
          free.push(Number(held.slice(0, colon)));
          ranOut = true;
        }
      }
      if (ranOut) free.sort((a, b) => a - b);
    }
  }
  return { startsAtMs, price: Number(price), free };
}
