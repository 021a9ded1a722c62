// Step 2, waiting: the visitor's rank, estimated wait and progress, followed live (queue-watch.ts).
import { ApiError, type TokenView } from "../api";
import { act, refuse } from "../actions";
import { dom, showStep } from "../dom";
import { fmtClock, fmtWait } from "../format";
import { alertUser, notify } from "../messages";
import { watchQueue } from "../queue-watch";
import { page, type Visitor } from "../state";
import { loadDates } from "./dates";

let stopWatch: (() => void) | null = null;

export function stopWatching(): void {
  stopWatch?.();
}

/** Shows the waiting step and follows the queue until admitted; `first` is the join answer, if any. */
export function startWaiting(visitor: Visitor, first: TokenView | null): void {
  page.state = { step: "waiting", visitor, firstRank: first?.rank ?? null };
  showStep("waiting");
  if (first) render(first);
  stopWatching();
  stopWatch = watchQueue(visitor.userId, visitor.token, {
    update: (u) => {
      if (u.status === "WAITING") render(u);
      else if (u.status === "IN_PROGRESS") void admitted(visitor);
      else if (u.reason === "SOLD_OUT") ended("Sold out: every seat of this concert has been sold. We're sorry.", "SOLD_OUT");
      else if (u.reason === "CLOSED") ended("The sale of this concert has closed.", "SALE_CLOSED");
      else refuse(new ApiError("TOKEN_INVALID", "finished", 401));
    },
    refused: (err) => refuse(err),
    transport: (t) => {
      document.body.dataset.transport = t;
      dom.transport.textContent = t === "stream" ? "Live: your position updates as the queue moves." : "Updating every 2 seconds.";
    },
    trouble: () => {
      dom.transport.textContent = "Connection trouble; still trying…";
    },
  });
}

let openingTimer: number | undefined;

/** The line ended without a turn (sold out, closed): say so plainly. */
function ended(text: string, code: string): void {
  stopOpening();
  dom.opening.hidden = true;
  dom.rank.textContent = "–";
  dom.rank.dataset.rank = "";
  alertUser(text, code);
}

function stopOpening(): void {
  if (openingTimer !== undefined) window.clearInterval(openingTimer);
  openingTimer = undefined;
}

/** A waiting answer: the pre-queue's countdown to the opening (no rank yet), or the live position. */
function render(u: {
  rank: number | null;
  estimatedWaitSec: number | null;
  opensAt?: string;
  prequeueCount?: number;
  seatsHeld?: number;
}): void {
  if (u.rank === null && u.opensAt) {
    const opensAt = Date.parse(u.opensAt);
    const tick = () => {
      dom.opening.textContent = `Opens in ${fmtClock(opensAt - Date.now())} · ${u.prequeueCount ?? 0} in the pre-queue. Your place is drawn at random at the opening: no need to hurry.`;
    };
    stopOpening();
    tick();
    openingTimer = window.setInterval(tick, 1000);
    dom.opening.hidden = false;
    document.body.dataset.prequeue = "true";
    dom.rank.textContent = "–";
    dom.eta.textContent = "at the opening";
    return;
  }
  stopOpening();
  delete document.body.dataset.prequeue;
  dom.opening.hidden = u.seatsHeld === undefined;
  if (u.seatsHeld !== undefined) dom.opening.textContent = `No seat is free right now; ${u.seatsHeld} are held and may come back.`;
  renderRank(u.rank, u.estimatedWaitSec);
}

function renderRank(rank: number | null, etaSec: number | null): void {
  const state = page.state;
  if (rank === null || state.step !== "waiting") return;
  const firstRank = state.firstRank === null || rank > state.firstRank ? rank : state.firstRank;
  page.state = { ...state, firstRank };
  dom.rank.textContent = `#${rank}`;
  dom.rank.dataset.rank = String(rank);
  dom.eta.textContent = fmtWait(etaSec);
  // progress: how much of the queue ahead of you at joining has gone in (a sliver to start with)
  setProgress(Math.max(3, Math.round(((firstRank - rank) / firstRank) * 100)));
}

function setProgress(pct: number): void {
  dom.progressFill.style.width = `${pct}%`;
  dom.progress.setAttribute("aria-valuenow", String(pct));
}

/** The visitor's turn has come: on to the dates. */
export async function admitted(visitor: Visitor): Promise<void> {
  setProgress(100);
  notify("It's your turn! Choose a date and a seat.");
  await act(null, () => loadDates(visitor));
}
