// The waiting-room page: connects the markup's controls to the steps (steps/*, in the order the
// visitor meets them) and sends every refusal to refusals.ts.
import { act, handleRefusalsWith } from "./actions";
import { dom, showStep } from "./dom";
import { clearMessages } from "./messages";
import { handleRefusal } from "./refusals";
import { loadRooms } from "./rooms";
import { page, visitorOf } from "./state";
import { loadDates } from "./steps/dates";
import { charge, chooseOtherSeat, holdPicked, pay } from "./steps/hold";
import { join, readUserId, rememberedUserId, resumableUserId } from "./steps/join";
import { confirmCancel, keepTicket, showTickets } from "./steps/tickets";

handleRefusalsWith(handleRefusal);

dom.joinForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const userId = readUserId();
  if (userId !== null) void act(dom.joinButton, () => join(userId));
});

dom.backToDates.addEventListener("click", () => {
  const visitor = visitorOf(page.state);
  if (!visitor) return;
  clearMessages();
  void act(null, () => loadDates(visitor));
});

dom.holdButton.addEventListener("click", holdPicked);

dom.chargeForm.addEventListener("submit", (e) => {
  e.preventDefault();
  charge();
});

dom.payButton.addEventListener("click", () => void pay());

dom.otherSeat.addEventListener("click", chooseOtherSeat);

dom.bookAgain.addEventListener("click", () => {
  const visitor = visitorOf(page.state);
  if (visitor) void act(dom.bookAgain, () => join(visitor.userId));
});

// my tickets: no queue token needed, from the form (days later) or after paying
dom.joinTickets.addEventListener("click", () => {
  const userId = readUserId();
  if (userId !== null) void act(dom.joinTickets, () => showTickets(userId, null));
});

dom.doneTickets.addEventListener("click", () => {
  const visitor = visitorOf(page.state);
  if (visitor) void act(dom.doneTickets, () => showTickets(visitor.userId, visitor));
});

dom.cancelYes.addEventListener("click", () => void act(dom.cancelYes, confirmCancel));
dom.cancelNo.addEventListener("click", keepTicket);

dom.ticketsBook.addEventListener("click", () => {
  if (page.state.step === "tickets") {
    const { userId } = page.state;
    void act(dom.ticketsBook, () => join(userId));
  }
});

const remembered = rememberedUserId(new URLSearchParams(location.search));
if (remembered) dom.userId.value = remembered;
showStep("join", false);
// the concert rooms first: which room a join goes to depends on them
void loadRooms().then(() => {
  document.body.dataset.ready = "true";
  // a reload mid-session: back to the same place (the tab presents its token), not to the form
  const resumable = resumableUserId();
  if (resumable !== null) void act(dom.joinButton, () => join(resumable));
});
