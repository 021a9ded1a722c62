import { api, ApiError, type Hold, type Schedules, type TokenView } from "./api";
import { watchQueue, type Transport } from "./queue-watch";

// ---- the page's state ----
const params = new URLSearchParams(location.search);
const CONCERT_ID = Number(params.get("concert") ?? "1") || 1;
const SEATS = 50;
const LOW_TIME_MS = 60_000;

type Schedule = Schedules["concertInfos"][number];

interface State {
  userId: number | null;
  token: string | null;
  /** rank when the user joined, for the progress bar */
  firstRank: number | null;
  schedule: Schedule | null;
  picked: number | null;
  hold: (Hold & { deadline: number; payKey: string }) | null;
  balance: number | null;
}
const state: State = { userId: null, token: null, firstRank: null, schedule: null, picked: null, hold: null, balance: null };
let stopWatching: (() => void) | null = null;
let countdownTimer: number | undefined;
let busy = false;

// ---- DOM ----
const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el as T;
};
const steps = ["join", "waiting", "dates", "seats", "hold", "done"] as const;
type Step = (typeof steps)[number];

function show(step: Step, focus = true): void {
  for (const s of steps) $(`step-${s}`).hidden = s !== step;
  document.body.dataset.step = step;
  if (focus) $(`${step}-title`).focus();
}

function notify(text: string): void {
  $("notice").textContent = text;
}

function clearMessages(): void {
  $("notice").textContent = "";
  $("alert").hidden = true;
  delete document.body.dataset.error;
}

/** Shows a refusal; `action` adds one button (e.g. "Join the queue again"), which gets the focus. */
function alertUser(text: string, code: string, action?: { label: string; run: () => void }): void {
  $("notice").textContent = "";
  $("alert-text").textContent = text;
  document.body.dataset.error = code;
  const button = $<HTMLButtonElement>("alert-action");
  button.hidden = !action;
  button.onclick = null;
  if (action) {
    button.textContent = action.label;
    button.onclick = () => {
      clearMessages();
      action.run();
    };
  }
  $("alert").hidden = false;
  if (action) button.focus();
}

const fmtPoints = (n: number) => `${n.toLocaleString("en-US")} points`;
const fmtDate = (iso: string) =>
  new Date(iso).toLocaleString("en-GB", {
    weekday: "short",
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
function fmtWait(sec: number | null): string {
  if (sec === null) return "–";
  if (sec < 60) return `about ${Math.max(1, sec)} s`;
  const min = Math.ceil(sec / 60);
  return min < 120 ? `about ${min} min` : `about ${Math.round(min / 60)} h`;
}
const fmtClock = (ms: number) => {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};

// ---- refusals: one place that turns error codes into words and a way forward ----
function handleError(err: unknown): void {
  const e = err instanceof ApiError ? err : new ApiError("INTERNAL", String(err), 0);
  const rejoin = { label: "Join the queue again", run: () => void join(state.userId ?? 0) };
  switch (e.code) {
    case "TOKEN_INVALID":
    case "TOKEN_USER_MISMATCH":
      stopCountdown();
      alertUser("Your place in the queue has expired or was already used. Join the queue again to continue.", e.code, rejoin);
      break;
    case "TOKEN_NOT_ACTIVE":
      alertUser("It is not your turn yet; you are still in the queue.", e.code);
      if (state.token) startWaiting(state.token, null);
      break;
    case "SEAT_UNAVAILABLE":
      alertUser(
        `Sorry, ${state.picked === null ? "that seat" : `seat ${state.picked}`} was just taken by someone else. Please pick another seat.`,
        e.code,
      );
      state.picked = null;
      void loadSeats(false);
      break;
    case "HOLD_EXPIRED":
      holdExpired();
      break;
    case "INSUFFICIENT_POINTS": {
      const balance = Number(e.details.balance ?? state.balance ?? 0);
      const amount = Number(e.details.amount ?? state.hold?.price ?? 0);
      setBalance(balance);
      $<HTMLInputElement>("charge-amount").value = String(Math.max(1, amount - balance));
      alertUser(
        `Not enough points: you have ${fmtPoints(balance)} and the seat costs ${fmtPoints(amount)}. Charge at least ${fmtPoints(amount - balance)}, then pay.`,
        e.code,
      );
      $("charge-amount").focus();
      break;
    }
    case "HOLD_LIMIT":
      alertUser(`${e.message}. Pay for or let go of a held seat first.`, e.code);
      break;
    case "ALREADY_PAID":
      alertUser("This seat is already paid for.", e.code);
      break;
    case "RATE_LIMITED":
      alertUser("Too many attempts from your network. Please wait a minute and try again.", e.code);
      break;
    case "SERVICE_UNAVAILABLE":
    case "NETWORK":
    case "BAD_GATEWAY":
      alertUser("The ticket service is busy or unreachable right now. Please try again in a moment.", e.code);
      break;
    default:
      alertUser(e.message || "Something went wrong. Please try again.", e.code);
  }
}

/** Runs one user action at a time (no double submits); refusals go to handleError. */
async function act(button: HTMLButtonElement | null, work: () => Promise<void>): Promise<void> {
  if (busy) return;
  busy = true;
  if (button) button.disabled = true;
  button?.setAttribute("aria-busy", "true");
  try {
    await work();
  } catch (err) {
    handleError(err);
  } finally {
    busy = false;
    if (button) {
      button.removeAttribute("aria-busy");
      if (button.isConnected) button.disabled = false;
    }
    if (state.hold && state.hold.deadline <= performance.now()) $<HTMLButtonElement>("pay-button").disabled = true;
  }
}

// ---- 1. join ----
async function join(userId: number): Promise<void> {
  clearMessages();
  stopWatching?.();
  stopCountdown();
  state.token = null;
  state.hold = null;
  state.picked = null;
  const { result } = await api.join(userId);
  state.userId = userId;
  state.token = result.token;
  sessionStorage.setItem("userId", String(userId));
  $("who").textContent = `User ${userId}`;
  $("who").hidden = false;
  if (result.status === "IN_PROGRESS") {
    void admitted();
    return;
  }
  startWaiting(result.token, result);
}

$("join-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>("user-id");
  const userId = Number(input.value);
  if (!Number.isInteger(userId) || userId < 1 || userId > 2_147_483_647) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "user-id-hint");
    alertUser("Please enter your user id: a positive whole number.", "VALIDATION_FAILED");
    input.focus();
    return;
  }
  input.removeAttribute("aria-invalid");
  void act($<HTMLButtonElement>("join-button"), () => join(userId));
});

// ---- 2. waiting ----
function startWaiting(token: string, first: TokenView | null): void {
  show("waiting");
  state.firstRank = first?.rank ?? state.firstRank;
  if (first) renderRank(first.rank, first.estimatedWaitSec);
  stopWatching?.();
  stopWatching = watchQueue(state.userId!, token, {
    update: (u) => {
      if (u.status === "WAITING") renderRank(u.rank, u.estimatedWaitSec);
      else if (u.status === "IN_PROGRESS") void admitted();
      else handleError(new ApiError("TOKEN_INVALID", "finished", 401));
    },
    refused: (err) => handleError(err),
    transport: (t: Transport) => {
      document.body.dataset.transport = t;
      $("transport").textContent = t === "stream" ? "Live: your position updates as the queue moves." : "Updating every 2 seconds.";
    },
    trouble: () => {
      $("transport").textContent = "Connection trouble; still trying…";
    },
  });
}

function renderRank(rank: number | null, etaSec: number | null): void {
  if (rank === null) return;
  if (state.firstRank === null || rank > state.firstRank) state.firstRank = rank;
  const rankEl = $("rank");
  rankEl.textContent = `#${rank}`;
  rankEl.dataset.rank = String(rank);
  $("eta").textContent = fmtWait(etaSec);
  // progress: how much of the queue ahead of you at joining has gone in (a sliver to start with)
  const first = state.firstRank;
  const pct = Math.max(3, Math.round(((first - rank) / first) * 100));
  setProgress(pct);
}

function setProgress(pct: number): void {
  $("progress-fill").style.width = `${pct}%`;
  $("progress").setAttribute("aria-valuenow", String(pct));
}

// ---- 3. dates ----
async function admitted(): Promise<void> {
  setProgress(100);
  notify("It's your turn! Choose a date and a seat.");
  await act(null, loadDates);
}

async function loadDates(): Promise<void> {
  const { result } = await api.dates(CONCERT_ID, state.token!);
  $("concert-name").textContent = result.concertName;
  const list = $("date-list");
  list.replaceChildren();
  for (const s of result.concertInfos) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "date";
    b.dataset.concertDetailId = String(s.concertDetailId);
    b.innerHTML = `<span class="when"></span><span class="sub"></span>`;
    b.querySelector(".when")!.textContent = fmtDate(s.startsAt);
    b.querySelector(".sub")!.textContent = `${s.availableSeats} of ${SEATS} seats free · ${fmtPoints(s.seatPrice)}`;
    b.addEventListener("click", () => {
      state.schedule = s;
      state.picked = null;
      clearMessages();
      void act(b, () => loadSeats(true));
    });
    li.append(b);
    list.append(li);
  }
  if (result.concertInfos.length === 0) alertUser("Every date is sold out.", "SOLD_OUT");
  show("dates");
}

$("back-to-dates").addEventListener("click", () => {
  clearMessages();
  void act(null, loadDates);
});

// ---- 4. seats ----
async function loadSeats(focus: boolean): Promise<void> {
  const schedule = state.schedule!;
  const { result: free } = await api.freeSeats(schedule.concertDetailId, state.token!);
  const freeSet = new Set(free);
  $("seats-date").textContent = `${fmtDate(schedule.startsAt)} · ${fmtPoints(schedule.seatPrice)} a seat · ${free.length} free`;
  const map = $("seat-map");
  map.replaceChildren();
  for (let n = 1; n <= SEATS; n++) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "seat";
    b.textContent = String(n);
    b.dataset.seat = String(n);
    const taken = !freeSet.has(n);
    b.disabled = taken;
    b.setAttribute("aria-label", taken ? `Seat ${n}, taken` : `Seat ${n}`);
    b.setAttribute("aria-pressed", String(state.picked === n));
    b.addEventListener("click", () => pickSeat(n));
    map.append(b);
  }
  if (state.picked !== null && !freeSet.has(state.picked)) state.picked = null;
  renderHoldButton();
  show("seats", focus);
}

function pickSeat(n: number): void {
  state.picked = n;
  for (const b of $("seat-map").querySelectorAll<HTMLButtonElement>(".seat"))
    b.setAttribute("aria-pressed", String(b.dataset.seat === String(n)));
  renderHoldButton();
}

function renderHoldButton(): void {
  const b = $<HTMLButtonElement>("hold-button");
  b.disabled = state.picked === null;
  b.textContent = state.picked === null ? "Pick a seat" : `Hold seat ${state.picked}`;
}

$("hold-button").addEventListener("click", () => {
  const seat = state.picked;
  if (seat === null) return;
  clearMessages();
  void act($<HTMLButtonElement>("hold-button"), async () => {
    const { result, serverNow } = await api.hold(state.userId!, state.schedule!.concertDetailId, seat, state.token!);
    // Count down on this device's monotonic clock, from the server's view of the time left.
    const skew = Math.abs(Date.now() - serverNow) > 2_000 ? Date.now() - serverNow : 0;
    const leftMs = Date.parse(result.expiresAt) - (Date.now() - skew);
    state.hold = { ...result, deadline: performance.now() + leftMs, payKey: newKey(result.reservationId) };
    await enterHold();
  });
});

// ---- 5. hold: countdown, points, pay ----
async function enterHold(): Promise<void> {
  const hold = state.hold!;
  $("hold-seat").textContent = String(hold.seatId);
  $("hold-price").textContent = fmtPoints(hold.price);
  $<HTMLButtonElement>("pay-button").textContent = `Pay ${fmtPoints(hold.price)}`;
  $<HTMLButtonElement>("pay-button").disabled = false;
  startCountdown();
  show("hold");
  notify(`Seat ${hold.seatId} is held for you. Pay before the timer runs out.`);
  try {
    const { result } = await api.balance(state.userId!);
    setBalance(result.point);
  } catch {
    $("balance").textContent = "–";
  }
}

function setBalance(points: number): void {
  state.balance = points;
  $("balance").textContent = fmtPoints(points);
  const price = state.hold?.price ?? 0;
  const input = $<HTMLInputElement>("charge-amount");
  if (!input.value) input.value = String(Math.max(price - points, 1000));
}

function startCountdown(): void {
  stopCountdown();
  const el = $("countdown");
  let warned = false;
  const tick = () => {
    const hold = state.hold;
    if (!hold) return stopCountdown();
    const left = hold.deadline - performance.now();
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

function stopCountdown(): void {
  if (countdownTimer !== undefined) window.clearInterval(countdownTimer);
  countdownTimer = undefined;
}

function holdExpired(): void {
  stopCountdown();
  const seat = state.hold?.seatId;
  $("countdown").textContent = "0:00";
  $("countdown").classList.add("over");
  $<HTMLButtonElement>("pay-button").disabled = true;
  alertUser(`Your hold on seat ${seat} has expired and the seat was released. Choose a seat again to continue.`, "HOLD_EXPIRED", {
    label: "Choose a seat again",
    run: () => {
      state.hold = null;
      state.picked = null;
      void act(null, () => loadSeats(true));
    },
  });
}

$("charge-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>("charge-amount");
  const point = Number(input.value);
  if (!Number.isInteger(point) || point < 1) {
    alertUser("Enter how many points to charge: a positive whole number.", "VALIDATION_FAILED");
    input.focus();
    return;
  }
  clearMessages();
  void act($<HTMLButtonElement>("charge-button"), async () => {
    const { result } = await api.charge(state.userId!, point);
    setBalance(result.point);
    notify(`Charged ${fmtPoints(point)}. You now have ${fmtPoints(result.point)}.`);
    $("pay-button").focus();
  });
});

$("pay-button").addEventListener("click", () => {
  const hold = state.hold;
  if (!hold) return;
  clearMessages();
  void act($<HTMLButtonElement>("pay-button"), async () => {
    const { result } = await api.pay(state.userId!, hold.reservationId, state.token!, hold.payKey);
    stopCountdown();
    state.hold = null;
    $("done-text").textContent = `Seat ${hold.seatId} on ${fmtDate(state.schedule!.startsAt)} is yours.`;
    $("done-payment").textContent = `#${result.paymentId}`;
    $("done-amount").textContent = fmtPoints(result.amount);
    $("done-balance").textContent = fmtPoints(result.balance);
    show("done");
    notify("Payment complete. Enjoy the show!");
  });
});

$("other-seat").addEventListener("click", () => {
  stopCountdown();
  state.hold = null;
  state.picked = null;
  clearMessages();
  notify("Your earlier hold stays until its timer runs out, then the seat is released.");
  void act(null, () => loadSeats(true));
});

$("book-again").addEventListener("click", () => {
  void act($<HTMLButtonElement>("book-again"), () => join(state.userId!));
});

/** An Idempotency-Key per hold, reused when the same payment is retried. */
function newKey(reservationId: number): string {
  const random =
    typeof crypto.randomUUID === "function" ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  return `pay-${reservationId}-${random}`;
}

// ---- start ----
const remembered = sessionStorage.getItem("userId") ?? params.get("user");
if (remembered) $<HTMLInputElement>("user-id").value = remembered;
show("join", false);
document.body.dataset.ready = "true";
