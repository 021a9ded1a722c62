// My tickets: the user's reservations (no queue token needed) and cancelling a paid one, after
// a confirmation in the page.
import { api, type Tickets } from "../api";
import { dom, showStep } from "../dom";
import { fmtDate, fmtPoints } from "../format";
import { clearMessages, notify } from "../messages";
import { page, type Visitor } from "../state";

type Ticket = Tickets["reservations"][number];

const STATUS_TEXT: Record<Ticket["status"], string> = {
  HELD: "held, not paid",
  CONFIRMED: "paid",
  CANCELLED: "cancelled",
  EXPIRED: "hold expired",
};

/** Loads and shows the user's tickets and points. */
export async function showTickets(userId: number, visitor: Visitor | null): Promise<void> {
  const [{ result: tickets }, { result: balance }] = await Promise.all([api.tickets(userId), api.balance(userId)]);
  page.state = { step: "tickets", userId, visitor, confirming: null };
  dom.ticketsBalance.textContent = fmtPoints(balance.point);
  dom.ticketList.replaceChildren(...(tickets.reservations.length ? tickets.reservations.map(ticketItem) : [noTickets()]));
  dom.cancelConfirm.hidden = true;
  showStep("tickets");
}

function ticketItem(t: Ticket): HTMLLIElement {
  const li = document.createElement("li");
  li.className = "ticket";
  li.dataset.reservationId = String(t.reservationId);
  li.dataset.status = t.status;
  const what = document.createElement("span");
  what.textContent = `${t.concert.name}, ${fmtDate(t.date.startsAt)}, seat ${t.seatId}, ${fmtPoints(t.price)}: `;
  const status = document.createElement("strong");
  status.className = "ticket-status";
  status.textContent = STATUS_TEXT[t.status] + (t.refund ? ` (${fmtPoints(t.refund.amount)} refunded)` : "");
  li.append(what, status);
  if (t.status === "CONFIRMED") {
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "secondary cancel-ticket";
    cancel.textContent = "Cancel…";
    cancel.setAttribute("aria-label", `Cancel seat ${t.seatId}`);
    cancel.addEventListener("click", () => askToCancel(t));
    li.append(" ", cancel);
  }
  return li;
}

function noTickets(): HTMLLIElement {
  const li = document.createElement("li");
  li.textContent = "No tickets yet.";
  return li;
}

/** The confirmation step: says what happens, and nothing is sent until the visitor says yes. */
function askToCancel(t: Ticket): void {
  if (page.state.step !== "tickets") return;
  clearMessages();
  page.state = { ...page.state, confirming: t.reservationId };
  dom.cancelConfirmText.textContent =
    `Cancel seat ${t.seatId} on ${fmtDate(t.date.startsAt)}? ${fmtPoints(t.price)} go back to your points, ` +
    "and the seat is offered to others. This cannot be undone.";
  dom.cancelConfirm.hidden = false;
  dom.cancelNo.focus();
}

export function keepTicket(): void {
  if (page.state.step !== "tickets") return;
  page.state = { ...page.state, confirming: null };
  dom.cancelConfirm.hidden = true;
}

/** Cancels the ticket being confirmed; one Idempotency-Key per confirmation, so a retry is never refunded twice. */
export async function confirmCancel(): Promise<void> {
  const state = page.state;
  if (state.step !== "tickets" || state.confirming === null) return;
  const { result } = await api.cancel(state.userId, state.confirming, crypto.randomUUID());
  await showTickets(state.userId, state.visitor);
  notify(`Ticket cancelled: ${fmtPoints(result.refund.amount)} refunded. Your points: ${fmtPoints(result.balance)}.`);
}
