// Step 6, done: the paid seat, the payment and the points left.
import type { Payment } from "../api";
import { dom, showStep } from "../dom";
import { fmtDate, fmtPoints } from "../format";
import { notify } from "../messages";
import { page, type Performance, type Visitor } from "../state";
import { forgetToken } from "./join";

export function showDone(visitor: Visitor, seats: readonly number[], performance: Performance, payment: Payment): void {
  page.state = { step: "done", visitor };
  forgetToken();
  const which = seats.length === 1 ? `Seat ${seats[0]}` : `Seats ${seats.join(", ")}`;
  dom.doneText.textContent = `${which} on ${fmtDate(performance.startsAt)} ${seats.length === 1 ? "is" : "are"} yours.`;
  dom.donePayment.textContent = `#${payment.paymentId}`;
  dom.doneAmount.textContent = fmtPoints(payment.amount);
  dom.doneBalance.textContent = fmtPoints(payment.balance);
  showStep("done");
  notify("Payment complete. Enjoy the show!");
}
