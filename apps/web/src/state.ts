// The page's state: which step the visitor is on and what that step needs. A queue token exists
// from the waiting step on, so no step after joining has to ask whether there is one.
import type { Hold, Performances } from "./api";

export type Performance = Performances["concertInfos"][number];

/** Someone the gateway has given a place in the queue. */
export interface Visitor {
  readonly userId: number;
  readonly token: string;
}

/** The seats held for the visitor together (one expiry), counted down on this device's monotonic clock. */
export interface HeldSeats {
  /** ascending by seat; a released seat leaves the list */
  readonly seats: readonly Hold[];
  /** this device's monotonic clock (`window.performance.now()`) at which the holds run out */
  readonly deadline: number;
  /** the payment's Idempotency-Key, the same for every retry of the payment of these seats */
  readonly payKey: string;
}

export type PageState =
  | { readonly step: "join" }
  | {
      readonly step: "waiting";
      readonly visitor: Visitor;
      /** the highest rank seen while waiting (the rank at joining, usually), for the progress bar */
      readonly firstRank: number | null;
    }
  | { readonly step: "dates"; readonly visitor: Visitor }
  | { readonly step: "seats"; readonly visitor: Visitor; readonly performance: Performance; readonly picked: readonly number[] }
  | {
      readonly step: "hold";
      readonly visitor: Visitor;
      readonly performance: Performance;
      readonly hold: HeldSeats;
      /** the visitor's points as last heard from booking, null until then */
      readonly balance: number | null;
    }
  | { readonly step: "done"; readonly visitor: Visitor }
  | {
      readonly step: "tickets";
      readonly userId: number;
      /** set when the visitor came here from the queue (no token is needed to see or cancel tickets) */
      readonly visitor: Visitor | null;
      /** the reservation whose cancel waits for the visitor's confirmation */
      readonly confirming: number | null;
    };

export type Step = PageState["step"];

/**
 * The current state, replaced (never edited) by the step modules. `step` is the step on screen:
 * a step's state is set when the answer that step shows has arrived, just before it is shown.
 */
export const page: { state: PageState } = { state: { step: "join" } };

export function visitorOf(state: PageState): Visitor | null {
  return state.step === "join" ? null : state.visitor;
}
