// Step 4, seats: the seat map of one date (taken seats disabled) and the visitor's pick of up to
// MAX_PICK seats, held together.
import { api } from "../api";
import { dom, showStep } from "../dom";
import { fmtDate, fmtPoints } from "../format";
import { notify } from "../messages";
import { DEFAULT_MAX_HOLDS_PER_USER, SEATS_PER_PERFORMANCE } from "../shared";
import { page, type Performance, type Visitor } from "../state";

/**
 * The most seats the map lets a visitor pick: booking's MAX_HOLDS_PER_USER at its default (a
 * deployment that lowers it answers a larger pick 409 HOLD_LIMIT, which the page explains).
 */
export const MAX_PICK = DEFAULT_MAX_HOLDS_PER_USER;

/** Shows the seat map of `performance`, keeping the seats picked on it that are still free. */
export async function loadSeats(visitor: Visitor, performance: Performance, focus: boolean): Promise<void> {
  const { result: free } = await api.freeSeats(performance.concertDetailId, visitor.token);
  const freeSet = new Set(free);
  const before = page.state;
  const kept = before.step === "seats" && before.performance.concertDetailId === performance.concertDetailId ? before.picked : [];
  const picked = kept.filter((n) => freeSet.has(n));
  page.state = { step: "seats", visitor, performance, picked };
  dom.seatsDate.textContent = `${fmtDate(performance.startsAt)} · ${fmtPoints(performance.seatPrice)} a seat · ${free.length} free`;
  const map = dom.seatMap;
  map.setAttribute("aria-label", `Seats 1 to ${SEATS_PER_PERFORMANCE} (stage at the top)`);
  map.replaceChildren();
  for (let n = 1; n <= SEATS_PER_PERFORMANCE; n++) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "seat";
    b.textContent = String(n);
    b.dataset.seat = String(n);
    const taken = !freeSet.has(n);
    b.disabled = taken;
    b.setAttribute("aria-label", taken ? `Seat ${n}, taken` : `Seat ${n}`);
    b.setAttribute("aria-pressed", String(picked.includes(n)));
    b.addEventListener("click", () => pickSeat(n));
    map.append(b);
  }
  renderHoldButton(picked);
  showStep("seats", focus);
}

/** Picks seat `n`, or puts it back when it was picked; at most MAX_PICK seats. */
function pickSeat(n: number): void {
  const state = page.state;
  if (state.step !== "seats") return;
  const was = state.picked.includes(n);
  if (!was && state.picked.length >= MAX_PICK) {
    notify(`You can hold at most ${MAX_PICK} seats at once.`);
    return;
  }
  const picked = was ? state.picked.filter((p) => p !== n) : [...state.picked, n].sort((x, y) => x - y);
  page.state = { ...state, picked };
  for (const b of dom.seatMap.querySelectorAll<HTMLButtonElement>(".seat"))
    b.setAttribute("aria-pressed", String(picked.includes(Number(b.dataset.seat))));
  renderHoldButton(picked);
}

/** Forgets the pick (a seat was taken by someone else); the map still shows it until reloaded. */
export function unpick(): void {
  const state = page.state;
  if (state.step === "seats") page.state = { ...state, picked: [] };
}

/** "seat 7" / "seats 7, 8". */
export const seatWords = (seats: readonly number[]): string => `${seats.length === 1 ? "seat" : "seats"} ${seats.join(", ")}`;

function renderHoldButton(picked: readonly number[]): void {
  const b = dom.holdButton;
  b.disabled = picked.length === 0;
  b.textContent = picked.length === 0 ? "Pick a seat" : `Hold ${seatWords(picked)}`;
}
