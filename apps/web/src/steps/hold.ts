// Step 5, hold: a held seat with its countdown, the visitor's points, charging and paying.
import { api } from "../api";
import { act } from "../actions";
import { dom, showStep } from "../dom";
import { fmtClock, fmtPoints } from "../format";
import { alertUser, clearMessages, notify } from "../messages";
import { page, visitorOf, type HeldSeat, type Visitor } from "../state";
import { showDone } from "./done";
import { loadSeats } from "./seats";

/** This device's monotonic clock (the global `performance`; a performance of a concert is `performance` here too). */
const monotonicNow = (): number => window.performance.now();

/** below this the countdown turns red and the notice says so */
const LOW_TIME_MS = 60_000;

let countdownTimer: number | undefined;

/** Holds the seat picked on the map (the Hold button of the seats step). */
export function holdPicked(): void {
  const state = page.state;
  if (state.step !== "seats" || state.picked === null) return;
  const { visitor, performance, picked } = state;
  clearMessages();
  void act(dom.holdButton, async () => {
    const { result, serverNow } = await api.hold(visitor.userId, performance.concertDetailId, picked, visitor.token);
    // Count down on this device's monotonic clock, from the server's view of the time left.
    const skew = Math.abs(Date.now() - serverNow) > 2_000 ? Date.now() - serverNow : 0;
    const leftMs = Date.parse(result.expiresAt) - (Date.now() - skew);
    const hold: HeldSeat = { ...result, deadline: monotonicNow() + leftMs, payKey: newKey(result.reservationId) };
    page.state = { step: "hold", visitor, performance, hold, balance: null };
    await enterHold(visitor, hold);
  });
}

async function enterHold(visitor: Visitor, hold: HeldSeat): Promise<void> {
  dom.holdSeat.textContent = String(hold.seatId);
  dom.holdPrice.textContent = fmtPoints(hold.price);
  dom.payButton.textContent = `Pay ${fmtPoints(hold.price)}`;
  dom.payButton.disabled = false;
  startCountdown();
  showStep("hold");
  notify(`Seat ${hold.seatId} is held for you. Pay before the timer runs out.`);
  try {
    const { result } = await api.balance(visitor.userId);
    setBalance(result.point);
  } catch {
    dom.balance.textContent = "–";
  }
}

/** Shows the visitor's points and, if the field is empty, suggests an amount to charge. */
export function setBalance(points: number): void {
  const state = page.state;
  if (state.step === "hold") page.state = { ...state, balance: points };
  dom.balance.textContent = fmtPoints(points);
  const price = state.step === "hold" ? state.hold.price : 0;
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
  alertUser(`Your hold on seat ${hold.seatId} has expired and the seat was released. Choose a seat again to continue.`, "HOLD_EXPIRED", {
    label: "Choose a seat again",
    run: () => void act(null, () => loadSeats(visitor, performance, true)),
  });
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
    const { result } = await api.pay(visitor.userId, hold.reservationId, visitor.token, hold.payKey);
    stopCountdown();
    showDone(visitor, hold.seatId, performance, result);
  });
  // act enables the button again, but not if the hold ran out while the payment was on its way
  const now = page.state;
  if (now.step === "hold" && now.hold.deadline <= monotonicNow()) dom.payButton.disabled = true;
}

/** Lets go of the hold (booking keeps it until it runs out) and shows the seat map again. */
export function chooseOtherSeat(): void {
  const state = page.state;
  if (state.step !== "hold") return;
  const { visitor, performance } = state;
  stopCountdown();
  clearMessages();
  notify("Your earlier hold stays until its timer runs out, then the seat is released.");
  void act(null, () => loadSeats(visitor, performance, true));
}

/** An Idempotency-Key per hold, reused when the same payment is retried. */
function newKey(reservationId: number): string {
  const random =
    typeof crypto.randomUUID === "function" ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  return `pay-${reservationId}-${random}`;
}
