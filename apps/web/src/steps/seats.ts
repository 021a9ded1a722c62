// Step 4, seats: the seat map of one date (taken seats disabled) and the visitor's pick.
import { api } from "../api";
import { dom, showStep } from "../dom";
import { fmtDate, fmtPoints } from "../format";
import { SEATS_PER_PERFORMANCE } from "../shared";
import { page, type Performance, type Visitor } from "../state";

/** Shows the seat map of `performance`, keeping the seat picked on it if that seat is still free. */
export async function loadSeats(visitor: Visitor, performance: Performance, focus: boolean): Promise<void> {
  const { result: free } = await api.freeSeats(performance.concertDetailId, visitor.token);
  const freeSet = new Set(free);
  const before = page.state;
  const kept = before.step === "seats" && before.performance.concertDetailId === performance.concertDetailId ? before.picked : null;
  const picked = kept !== null && freeSet.has(kept) ? kept : null;
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
    b.setAttribute("aria-pressed", String(picked === n));
    b.addEventListener("click", () => pickSeat(n));
    map.append(b);
  }
  renderHoldButton(picked);
  showStep("seats", focus);
}

function pickSeat(n: number): void {
  const state = page.state;
  if (state.step !== "seats") return;
  page.state = { ...state, picked: n };
  for (const b of dom.seatMap.querySelectorAll<HTMLButtonElement>(".seat"))
    b.setAttribute("aria-pressed", String(b.dataset.seat === String(n)));
  renderHoldButton(n);
}

/** Forgets the pick (the seat was taken by someone else); the map still shows it until reloaded. */
export function unpick(): void {
  const state = page.state;
  if (state.step === "seats") page.state = { ...state, picked: null };
}

function renderHoldButton(picked: number | null): void {
  const b = dom.holdButton;
  b.disabled = picked === null;
  b.textContent = picked === null ? "Pick a seat" : `Hold seat ${picked}`;
}
