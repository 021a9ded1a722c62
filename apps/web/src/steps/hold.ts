// Step 5, hold: the seats held together with their countdown, releasing one, the visitor's
// points, charging and paying.
import { api } from "../api";
import { act } from "../actions";
import { dom, showStep } from "../dom";
import { fmtClock, fmtPoints } from "../format";
import { alertUser, clearMessages, notify } from "../messages";
import { page, visitorOf, type HeldSeats, type Visitor } from "../state";
import type { Hold } from "../api";
import { showDone } from "./done";
import { loadSeats, seatWords } from "./seats";

/** This device's monotonic clock (the global `performance`; a performance of a concert is `performance` here too). */
const monotonicNow = (): number => window.performance.now();

/** below this the countdown turns red and the notice says so */
const LOW_TIME_MS = 60_000;

let countdownTimer: number | undefined;

/** Holds the seats picked on the map together (the Hold button of the seats step). */
export function holdPicked(): void {
  const state = page.state;
  if (state.step !== "seats" || state.picked.length === 0) return;
  const { visitor, performance, picked } = state;
  clearMessages();
  void act(dom.holdButton, async () => {
    // one seat in the seed's `seatId` form, several as `seatIds` (all or none)
    const { seats, expiresAt, serverNow } =
      picked.length === 1
        ? await api.hold(visitor.userId, performance.concertDetailId, picked[0], visitor.token).then(({ result, serverNow }) => ({
            seats: [result],
            expiresAt: result.expiresAt,
            serverNow,
          }))
        : await api.holdTogether(visitor.userId, performance.concertDetailId, picked, visitor.token).then(({ result, serverNow }) => ({
            seats: result.reservations,
            expiresAt: result.expiresAt,
            serverNow,
          }));
    // Count down on this device's monotonic clock, from the server's view of the time left.
    const skew = Math.abs(Date.now() - serverNow) > 2_000 ? Date.now() - serverNow : 0;
    const leftMs = Date.parse(expiresAt) - (Date.now() - skew);
    const hold: HeldSeats = { seats, deadline: monotonicNow() + leftMs, payKey: newKey(seats) };
    page.state = { step: "hold", visitor, performance, hold, balance: null };
    await enterHold(visitor, hold);
  });
}

const seatNos = (seats: readonly Hold[]): number[] => seats.map((h) => h.seatId);
const priceOf = (seats: readonly Hold[]): number => seats.reduce((sum, h) => sum + h.price, 0);

async function enterHold(visitor: Visitor, hold: HeldSeats): Promise<void> {
  renderHeld(hold);
  dom.payButton.disabled = false;
  startCountdown();
  showStep("hold");
  const words = seatWords(seatNos(hold.seats));
  notify(
    `${words[0].toUpperCase()}${words.slice(1)} ${hold.seats.length === 1 ? "is" : "are"} held for you. Pay before the timer runs out.`,
  );
  try {
    const { result } = await api.balance(visitor.userId);
    setBalance(result.point);
  } catch {
    dom.balance.textContent = "–";
  }
}

/** The held seats, each with its Release button, their price and the Pay button's amount. */
function renderHeld(hold: HeldSeats): void {
  const seats = seatNos(hold.seats);
  dom.holdTitle.textContent = `${seats.length === 1 ? "Seat" : "Seats"} ${seats.join(", ")} ${seats.length === 1 ? "is" : "are"} held for you`;
  dom.holdPrice.textContent = fmtPoints(priceOf(hold.seats));
  dom.payButton.textContent = `Pay ${fmtPoints(priceOf(hold.seats))}`;
  dom.heldList.replaceChildren(
    ...hold.seats.map((h) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary release";
      b.dataset.reservation = String(h.reservationId);
      b.textContent = `Release seat ${h.seatId}`;
      b.addEventListener("click", () => release(h, b));
      li.append(`Seat ${h.seatId} · ${fmtPoints(h.price)} `, b);
      return li;
    }),
  );
}

/** Lets go of one held seat at once (it is free for others right away); the last one → the seat map. */
function release(seat: Hold, button: HTMLButtonElement): void {
  const state = page.state;
  if (state.step !== "hold") return;
  clearMessages();
  void act(button, async () => {
    await api.release(seat.reservationId, state.visitor.token);
    const now = page.state;
    if (now.step !== "hold") return;
    const seats = now.hold.seats.filter((h) => h.reservationId !== seat.reservationId);
    if (seats.length === 0) {
      stopCountdown();
      notify(`Seat ${seat.seatId} was released.`);
      return loadSeats(now.visitor, now.performance, true);
    }
    const hold: HeldSeats = { ...now.hold, seats, payKey: newKey(seats) };
    page.state = { ...now, hold };
    renderHeld(hold);
    notify(`Seat ${seat.seatId} was released; it is free for others now.`);
    dom.payButton.focus();
  });
}

/** Shows the visitor's points and, if the field is empty, suggests an amount to charge. */
export function setBalance(points: number): void {
  const state = page.state;
  if (state.step === "hold") page.state = { ...state, balance: points };
  dom.balance.textContent = fmtPoints(points);
  const price = state.step === "hold" ? priceOf(state.hold.seats) : 0;
  if (!dom.chargeAmount.value) dom.chargeAmount.value = String(Math.max(price - points, 1000));
}

function startCountdown(): void {
  stopCountdown();
  const el = dom.countdown;
  let warned = false;
  const tick = () => {
    const state = page.state;
    if (state.step !== "hold") return stopCountdown();
    const left = state.hold.deadline - monotonicNow();
    el.textContent = fmtClock(left);
    el.classList.toggle("low", left <= LOW_TIME_MS);
    if (left <= LOW_TIME_MS && !warned && left > 0) {
      warned = true;
      notify("Less than a minute left to pay.");
    }
    if (left <= 0) holdExpired();
  };
  el.classList.remove("over", "low");
  tick();
  countdownTimer = window.setInterval(tick, 250);
}

export function stopCountdown(): void {
  if (countdownTimer !== undefined) window.clearInterval(countdownTimer);
  countdownTimer = undefined;
}

/** The hold ran out (the countdown reached 0:00, or booking said HOLD_EXPIRED). */
export function holdExpired(): void {
  stopCountdown();
  const state = page.state;
  if (state.step !== "hold") return;
  const { visitor, performance, hold } = state;
  dom.countdown.textContent = "0:00";
  dom.countdown.classList.add("over");
  dom.payButton.disabled = true;
  const released = hold.seats.length === 1 ? "the seat was" : "the seats were";
  alertUser(
    `Your hold on ${seatWords(seatNos(hold.seats))} has expired and ${released} released. Choose a seat again to continue.`,
    "HOLD_EXPIRED",
    {
      label: "Choose a seat again",
      run: () => void act(null, () => loadSeats(visitor, performance, true)),
    },
  );
}

/** The charge form: adds points to the visitor's balance. */
export function charge(): void {
  const input = dom.chargeAmount;
  const point = Number(input.value);
  if (!Number.isInteger(point) || point < 1) {
    alertUser("Enter how many points to charge: a positive whole number.", "VALIDATION_FAILED");
    input.focus();
    return;
  }
  const visitor = visitorOf(page.state);
  if (!visitor) return;
  clearMessages();
  void act(dom.chargeButton, async () => {
    const { result } = await api.charge(visitor.userId, point);
    setBalance(result.point);
    notify(`Charged ${fmtPoints(point)}. You now have ${fmtPoints(result.point)}.`);
    dom.payButton.focus();
  });
}

export async function pay(): Promise<void> {
  const state = page.state;
  if (state.step !== "hold") return;
  const { visitor, performance, hold } = state;
  clearMessages();
  await act(dom.payButton, async () => {
    const { result } = await api.pay(
      visitor.userId,
      hold.seats.map((h) => h.reservationId),
      visitor.token,
      hold.payKey,
    );
    stopCountdown();
    showDone(visitor, seatNos(hold.seats), performance, result);
  });
  // act enables the button again, but not if the hold ran out while the payment was on its way
  const now = page.state;
  if (now.step === "hold" && now.hold.deadline <= monotonicNow()) dom.payButton.disabled = true;
}

/** Releases every held seat (free for others at once) and shows the seat map again. */
export function chooseOtherSeat(): void {
  const state = page.state;
  if (state.step !== "hold") return;
  const { visitor, performance, hold } = state;
  stopCountdown();
  clearMessages();
  void act(null, async () => {
    await Promise.all(hold.seats.map((h) => api.release(h.reservationId, visitor.token)));
    notify(`Your hold on ${seatWords(seatNos(hold.seats))} was released.`);
    await loadSeats(visitor, performance, true);
  });
}

/** An Idempotency-Key per set of held seats, reused when the same payment is retried. */
function newKey(seats: readonly Hold[]): string {
  const random =
    typeof crypto.randomUUID === "function" ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  return `pay-${seats.map((h) => h.reservationId).join("-")}-${random}`;
}
