// Step 6, done: the paid seat, the payment and the points left.
import type { Payment } from "../api";
import { dom, showStep } from "../dom";
import { fmtDate, fmtPoints } from "../format";
import { notify } from "../messages";
import { page, type Performance, type Visitor } from "../state";
import { forgetToken } from "./join";

export function showDone(visitor: Visitor, seatId: number, performance: Performance, payment: Payment): void {
  page.state = { step: "done", visitor };
  forgetToken();
  dom.doneText.textContent = `Seat ${seatId} on ${fmtDate(performance.startsAt)} is yours.`;
  dom.donePayment.textContent = `#${payment.paymentId}`;
  dom.doneAmount.textContent = fmtPoints(payment.amount);
  dom.doneBalance.textContent = fmtPoints(payment.balance);
  showStep("done");
  notify("Payment complete. Enjoy the show!");
}
