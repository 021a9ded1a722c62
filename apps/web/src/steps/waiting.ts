// Step 2, waiting: the visitor's rank, estimated wait and progress, followed live (queue-watch.ts).
import { ApiError, type TokenView } from "../api";
import { act, refuse } from "../actions";
import { dom, showStep } from "../dom";
import { fmtWait } from "../format";
import { notify } from "../messages";
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
  if (first) renderRank(first.rank, first.estimatedWaitSec);
  stopWatching();
  stopWatch = watchQueue(visitor.userId, visitor.token, {
    update: (u) => {
      if (u.status === "WAITING") renderRank(u.rank, u.estimatedWaitSec);
      else if (u.status === "IN_PROGRESS") void admitted(visitor);
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
