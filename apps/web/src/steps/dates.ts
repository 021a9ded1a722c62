// Step 3, dates: the concert's dates with their free seats and price, one button each.
import { api } from "../api";
import { act } from "../actions";
import { dom, showStep } from "../dom";
import { fmtDate, fmtPoints } from "../format";
import { SEATS_PER_PERFORMANCE } from "../shared";
import { alertUser, clearMessages } from "../messages";
import { page, type Visitor } from "../state";
import { loadSeats } from "./seats";

const concertId = Number(new URLSearchParams(location.search).get("concert") ?? "1") || 1;

export async function loadDates(visitor: Visitor): Promise<void> {
  const { result } = await api.dates(concertId, visitor.token);
  page.state = { step: "dates", visitor };
  dom.concertName.textContent = result.concertName;
  const list = dom.dateList;
  list.replaceChildren();
  for (const s of result.concertInfos) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "date";
    b.dataset.concertDetailId = String(s.concertDetailId);
    b.append(
      span("when", fmtDate(s.startsAt)),
      span("sub", `${s.availableSeats} of ${SEATS_PER_PERFORMANCE} seats free · ${fmtPoints(s.seatPrice)}`),
    );
    b.addEventListener("click", () => {
      clearMessages();
      void act(b, () => loadSeats(visitor, s, true));
    });
    li.append(b);
    list.append(li);
  }
  if (result.concertInfos.length === 0) alertUser("Every date is sold out.", "SOLD_OUT");
  showStep("dates");
}

function span(className: string, text: string): HTMLSpanElement {
  const el = document.createElement("span");
  el.className = className;
  el.textContent = text;
  return el;
}
