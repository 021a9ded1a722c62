// The concerts with a waiting room of their own (GET /rooms): the list on the join step, and
// which room this page joins (`?concert=<id>` of a concert with a room; else the general room).
import { api, type RoomView } from "./api";
import { dom } from "./dom";
import { fmtClock, fmtDate } from "./format";

const chosen = Number(new URLSearchParams(location.search).get("concert") ?? "") || null;
let rooms: RoomView[] = [];

/** The concert room this page joins, or undefined (the general room). */
export function joinedRoom(): number | undefined {
  return chosen !== null && rooms.some((r) => r.concertId === chosen) ? chosen : undefined;
}

const STATUS: Record<RoomView["status"], (r: RoomView) => string> = {
  SCHEDULED: (r) => `queue opens ${fmtDate(r.prequeueOpensAt!)}; sale opens ${fmtDate(r.opensAt!)}`,
  PREQUEUE: (r) => `pre-queue open: sale opens in ${fmtClock(Date.parse(r.opensAt!) - Date.now())} (${r.prequeueCount} waiting)`,
  OPEN: () => "on sale now",
  SOLD_OUT: () => "sold out",
  CLOSED: () => "sale closed",
};

/** Loads and lists the concert rooms; each links to this page for that concert. */
export async function loadRooms(): Promise<void> {
  try {
    rooms = (await api.rooms()).result.rooms;
  } catch {
    rooms = [];
  }
  dom.roomList.replaceChildren(
    ...rooms.map((r) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = `?concert=${r.concertId}`;
      a.textContent = r.name;
      a.dataset.concertId = String(r.concertId);
      if (r.concertId === chosen) a.setAttribute("aria-current", "page");
      li.append(a, ` — ${STATUS[r.status](r)}`);
      li.dataset.status = r.status;
      return li;
    }),
  );
}
