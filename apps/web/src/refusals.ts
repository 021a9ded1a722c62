// One place that turns refusal codes into words and a way forward.
import type { ApiError } from "./api";
import { dom } from "./dom";
import { fmtDate, fmtPoints } from "./format";
import { alertUser } from "./messages";
import { page, visitorOf } from "./state";
import { holdExpired, setBalance, stopCountdown } from "./steps/hold";
import { join } from "./steps/join";
import { loadSeats, seatWords, unpick } from "./steps/seats";
import { startWaiting, stopWatching } from "./steps/waiting";

export function handleRefusal(e: ApiError): void {
  const state = page.state;
  const visitor = visitorOf(state);
  const rejoin = { label: "Join the queue again", run: () => void join(visitorOf(page.state)?.userId ?? 0) };
  switch (e.code) {
    case "TOKEN_INVALID":
    case "TOKEN_USER_MISMATCH":
      stopCountdown();
      alertUser("Your place in the queue has expired or was already used. Join the queue again to continue.", e.code, rejoin);
      break;
    case "ALREADY_QUEUED": {
      // another tab or device has this user's place (or this tab lost its token): it is not handed over
      const userId = visitorOf(page.state)?.userId ?? Number(dom.userId.value);
      stopCountdown();
      alertUser(
        `User ${userId} already has a place in the queue, held in another tab or on another device: please continue there. ` +
          "A place nobody follows any more lapses after a few minutes; then you can join again here.",
        e.code,
        { label: "Try again", run: () => void join(userId) },
      );
      break;
    }
    case "SOLD_OUT":
      alertUser("Sold out: every seat of this concert has been sold.", e.code);
      break;
    case "SALE_CLOSED":
      alertUser("The sale of this concert has closed.", e.code);
      break;
    case "SALE_NOT_OPEN":
      alertUser(`The queue for this concert is not open yet. The sale opens ${fmtDate(String(e.details.opensAt))}.`, e.code);
      break;
    case "AUTH_REQUIRED":
    case "AUTH_INVALID":
      stopWatching();
      stopCountdown();
      alertUser("Please sign in on the site first (or again, if your sign-in ran out), then reload this page.", e.code);
      break;
    case "USER_MISMATCH":
      alertUser("You are signed in on the site as another user than this one.", e.code);
      break;
    case "TOKEN_NOT_ACTIVE":
      alertUser("It is not your turn yet; you are still in the queue.", e.code);
      if (visitor) startWaiting(visitor, null);
      break;
    case "SEAT_UNAVAILABLE": {
      // booking names the seats that were not free (details.seatIds); else the pick
      const named = Array.isArray(e.details.seatIds) ? (e.details.seatIds as number[]) : state.step === "seats" ? state.picked : [];
      alertUser(
        `Sorry, ${named.length === 0 ? "that seat" : seatWords(named)} ${named.length > 1 ? "were" : "was"} just taken by someone else. Please pick again.`,
        e.code,
      );
      unpick();
      if (state.step === "seats" || state.step === "hold") void loadSeats(state.visitor, state.performance, false);
      break;
    }
    case "HOLD_EXPIRED":
      holdExpired();
      break;
    case "INSUFFICIENT_POINTS": {
      const hold = state.step === "hold" ? state : null;
      const balance = Number(e.details.balance ?? hold?.balance ?? 0);
      const amount = Number(e.details.amount ?? hold?.hold.seats.reduce((sum, h) => sum + h.price, 0) ?? 0);
      setBalance(balance);
      dom.chargeAmount.value = String(Math.max(1, amount - balance));
      alertUser(
        `Not enough points: you have ${fmtPoints(balance)} and the seat costs ${fmtPoints(amount)}. Charge at least ${fmtPoints(amount - balance)}, then pay.`,
        e.code,
      );
      dom.chargeAmount.focus();
      break;
    }
    case "HOLD_LIMIT":
      alertUser(`${e.message}. Pay for or let go of a held seat first.`, e.code);
      break;
    case "NOT_HELD":
      alertUser("That seat is no longer held for you (it was released or its time ran out).", e.code);
      break;
    case "ALREADY_PAID":
      alertUser("This seat is already paid for.", e.code);
      break;
    case "ALREADY_CANCELLED":
      alertUser("This ticket was already cancelled (and refunded).", e.code);
      break;
    case "CANCEL_DEADLINE_PASSED":
      alertUser(`This ticket can no longer be cancelled: cancelling closed at ${fmtDate(String(e.details.cancelDeadline))}.`, e.code);
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
