// Every element of index.html the page script uses, looked up once (the script runs after the
// markup), each checked to be there and of the expected kind, so a renamed id fails at load.
import type { Step } from "./state";

/** The element with this id; `kind` only where the page uses more than HTMLElement offers. */
function byId(id: string): HTMLElement;
function byId<T extends HTMLElement>(id: string, kind: new () => T): T;
function byId(id: string, kind: new () => HTMLElement = HTMLElement): HTMLElement {
  const el = document.getElementById(id);
  if (!(el instanceof kind)) throw new Error(`#${id} is missing from index.html or is not a ${kind.name}`);
  return el;
}

const step = (name: Step) => ({ section: byId(`step-${name}`), title: byId(`${name}-title`) });

export const dom = {
  steps: {
    join: step("join"),
    waiting: step("waiting"),
    dates: step("dates"),
    seats: step("seats"),
    hold: step("hold"),
    done: step("done"),
    tickets: step("tickets"),
  } satisfies Record<Step, ReturnType<typeof step>>,
  who: byId("who"),

  // messages
  notice: byId("notice"),
  alert: byId("alert"),
  alertText: byId("alert-text"),
  alertAction: byId("alert-action", HTMLButtonElement),

  // join
  joinForm: byId("join-form", HTMLFormElement),
  userId: byId("user-id", HTMLInputElement),
  joinButton: byId("join-button", HTMLButtonElement),
  joinTickets: byId("join-tickets", HTMLButtonElement),
  roomList: byId("room-list"),

  // waiting
  rank: byId("rank"),
  eta: byId("eta"),
  progress: byId("progress"),
  progressFill: byId("progress-fill"),
  transport: byId("transport"),
  opening: byId("opening"),

  // dates
  concertName: byId("concert-name"),
  dateList: byId("date-list"),

  // seats
  seatsDate: byId("seats-date"),
  seatMap: byId("seat-map"),
  holdButton: byId("hold-button", HTMLButtonElement),
  backToDates: byId("back-to-dates", HTMLButtonElement),

  // hold
  holdTitle: byId("hold-title"),
  heldList: byId("held-list"),
  countdown: byId("countdown"),
  holdPrice: byId("hold-price"),
  balance: byId("balance"),
  chargeForm: byId("charge-form", HTMLFormElement),
  chargeAmount: byId("charge-amount", HTMLInputElement),
  chargeButton: byId("charge-button", HTMLButtonElement),
  payButton: byId("pay-button", HTMLButtonElement),
  otherSeat: byId("other-seat", HTMLButtonElement),

  // done
  doneText: byId("done-text"),
  donePayment: byId("done-payment"),
  doneAmount: byId("done-amount"),
  doneBalance: byId("done-balance"),
  bookAgain: byId("book-again", HTMLButtonElement),
  doneTickets: byId("done-tickets", HTMLButtonElement),

  // my tickets
  ticketList: byId("ticket-list"),
  ticketsBalance: byId("tickets-balance"),
  ticketsBook: byId("tickets-book", HTMLButtonElement),
  cancelConfirm: byId("cancel-confirm"),
  cancelConfirmText: byId("cancel-confirm-text"),
  cancelYes: byId("cancel-yes", HTMLButtonElement),
  cancelNo: byId("cancel-no", HTMLButtonElement),
};

/** Shows one step and hides the others; its heading takes the focus unless `focus` is false. */
export function showStep(name: Step, focus = true): void {
  for (const [s, { section }] of Object.entries(dom.steps)) section.hidden = s !== name;
  document.body.dataset.step = name;
  if (focus) dom.steps[name].title.focus();
}
