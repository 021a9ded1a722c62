// The operator console at /console: sign in with ADMIN_TOKEN and a name, then every room's live
// figures (a 2-s poll), charts of the last 30 minutes, controls (each confirmed first) and the
// audit log. Everything it shows is drawn with textContent (operator names are user input).
import { OPERATOR_NAME_MAX, OPERATOR_NAME_PATTERN } from "../../../../packages/shared/src/console-limits";
import {
  type AdminError,
  admin,
  listRooms,
  readAudit,
  readHistory,
  session,
  type AuditEntry,
  type Credentials,
  type HistorySample,
  type Room,
  type Sale,
  type Settings,
} from "./api";
import { drawChart } from "./chart";

const POLL_MS = 2_000;
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

let creds: Credentials | null = null;
let timer: number | undefined;
let busy = false;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

const fmtSec = (s: number | null) => (s === null ? "–" : s < 90 ? `${s} s` : `${Math.round(s / 60)} min`);
const fmtRate = (r: number | null) => (r === null ? "–" : `${(r * 100).toFixed(r < 0.1 ? 1 : 0)} %`);
const fmtNum = (n: number | null) => (n === null ? "–" : n.toLocaleString("en-US"));

function notice(text: string): void {
  $("notice").textContent = text;
}
function alertShown(text: string | null): void {
  $("alert").hidden = text === null;
  $("alert-text").textContent = text ?? "";
}

// ---- sign in / out ----

$("operator-hint").textContent = `1 to ${OPERATOR_NAME_MAX} characters: letters, digits, spaces and punctuation (ASCII).`;

$<HTMLFormElement>("sign-in-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const token = $<HTMLInputElement>("admin-token").value;
  const operator = $<HTMLInputElement>("operator-name").value.trim();
  if (!token) return alertShown("Enter the operator credential.");
  if (!operator || operator.length > OPERATOR_NAME_MAX || !OPERATOR_NAME_PATTERN.test(operator)) {
    return alertShown(`Your name: 1 to ${OPERATOR_NAME_MAX} ASCII letters, digits, spaces or punctuation.`);
  }
  void signIn({ token, operator });
});

async function signIn(c: Credentials): Promise<void> {
  $<HTMLButtonElement>("sign-in-button").disabled = true;
  try {
    await listRooms(c); // the credential is checked before it is kept
    creds = c;
    session.save(c);
    alertShown(null);
    $("who-name").textContent = `Signed in as ${c.operator}`;
    $("who").hidden = false;
    $("sign-in").hidden = true;
    $("dashboard").hidden = false;
    document.body.dataset.signedIn = "true";
    $("dashboard-title").focus();
    await refresh();
  } catch (err) {
    const e = err as AdminError;
    alertShown(
      e.status === 401 || e.status === 403
        ? "Wrong operator credential."
        : e.status === 404
          ? "Operator routes are off on this gateway (ADMIN_TOKEN is not set)."
          : `Could not sign in: ${e.message}`,
    );
    document.body.dataset.signedIn = "false";
  } finally {
    $<HTMLButtonElement>("sign-in-button").disabled = false;
  }
}

function signOut(message?: string): void {
  creds = null;
  session.clear();
  window.clearTimeout(timer);
  $("who").hidden = true;
  $("dashboard").hidden = true;
  $("sign-in").hidden = false;
  $("rooms").replaceChildren();
  $<HTMLInputElement>("admin-token").value = "";
  document.body.dataset.signedIn = "false";
  if (message) alertShown(message);
  $("sign-in-title").focus();
}
$("sign-out").addEventListener("click", () => signOut());

// ---- confirmation ----

function confirmAction(text: string): Promise<boolean> {
  const dialog = $<HTMLDialogElement>("confirm");
  $("confirm-text").textContent = text;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true }));
}

async function act(room: Room, question: string, method: string, path: string, body?: unknown): Promise<void> {
  if (!creds || !(await confirmAction(question))) return;
  try {
    await admin(creds, method, path, body);
    notice(`Done: ${question.split("?")[0]}.`); // the question, without what follows it
    alertShown(null);
  } catch (err) {
    alertShown(`Refused: ${(err as Error).message}`);
  }
  await refresh();
}

// ---- rendering ----

function figure(name: string, label: string): HTMLElement {
  return el("div", {}, el("dt", {}, label), el("dd", { "data-fig": name }, "–"));
}

/** A room's card, built once; `fill` updates it (inputs being edited are left alone). */
function roomCard(room: Room): HTMLElement {
  const card = el("section", { class: "card room", "data-room": room.id, "aria-labelledby": `room-${room.id}-title` });
  card.append(
    el("h2", { id: `room-${room.id}-title` }, room.name, " ", el("span", { class: "badge", "data-fig": "state" }, "")),
    el(
      "dl",
      { class: "facts figures" },
      figure("waiting", "Waiting"),
      figure("prequeued", "Pre-queued"),
      figure("active", "Active"),
      figure("admittedLastMinute", "Admitted, last minute"),
      figure("lastWait", "Wait of the last in line"),
      figure("oldestWait", "Oldest wait"),
      ...(room.sale
        ? [figure("sale", "Sale"), figure("seatsLeft", "Seats free · held · sold"), figure("lottery", "Opening's lottery")]
        : []),
      figure("bookingErrors", "Booking errors (1 min)"),
      figure("bookingP99", "Booking p99 (1 min)"),
    ),
  );

  const charts = el("div", { class: "charts" });
  for (const [key, title] of [
    ["waiting", "Waiting"],
    ["admittedLastMinute", "Admitted per minute"],
    ["active", "Active"],
    ["sold", "Seats sold"],
  ]) {
    charts.append(
      el(
        "figure",
        { class: "chart", "data-chart": key },
        el("figcaption", {}, title, " ", el("span", { class: "chart-last" }, "")),
        el("div", { class: "chart-plot" }),
      ),
    );
  }
  card.append(el("h3", {}, "Last 30 minutes"), charts);

  card.append(
    el("h3", {}, "Seats per date"),
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        { class: "seats" },
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            el("th", { scope: "col" }, "Date"),
            el("th", { scope: "col" }, "Free"),
            el("th", { scope: "col" }, "Held"),
            el("th", { scope: "col" }, "Sold"),
          ),
        ),
        el("tbody", { "data-seats": "" }),
      ),
    ),
  );

  // controls
  const toggle = el("button", { type: "button", "data-control": "pause" }, "Pause admission");
  toggle.addEventListener("click", () => {
    const r = current.get(room.id) ?? room;
    void (r.paused
      ? act(r, `Resume admission in the ${r.name}?`, "POST", r.routes.resume)
      : act(
          r,
          `Pause admission in the ${r.name}? Nobody is admitted until it is resumed; everyone keeps their place.`,
          "POST",
          r.routes.pause,
        ));
  });
  const form = el("form", { class: "settings", "data-control": "settings", novalidate: "" });
  const fields: [keyof Settings, string][] = [
    ["batch", "Batch (admitted per tick)"],
    ["tickMs", "Tick (ms)"],
    ["maxActive", "Max active"],
  ];
  for (const [key, label] of fields) {
    const id = `room-${room.id}-${key}`;
    form.append(
      el(
        "div",
        {},
        el("label", { for: id }, label),
        el("input", { id, name: key, type: "number", inputmode: "numeric", min: "1", step: "1", required: "" }),
      ),
    );
  }
  const apply = el("button", { type: "submit" }, "Apply settings");
  const reset = el("button", { type: "button", class: "secondary", "data-control": "reset" }, "Back to configured");
  form.append(el("div", { class: "actions" }, apply, ...(room.routes.reset ? [reset] : [])));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const r = current.get(room.id) ?? room;
    const change: Partial<Settings> = {};
    for (const [key] of fields) {
      const input = form.elements.namedItem(key) as HTMLInputElement;
      const v = Number(input.value);
      if (!Number.isInteger(v) || v < 1) return alertShown(`${key}: a whole number of at least 1.`);
      if (v !== r.settings[key]) change[key] = v;
    }
    const keys = Object.keys(change) as (keyof Settings)[];
    if (keys.length === 0) return notice("Nothing to change.");
    const what = keys.map((k) => `${k} ${r.settings[k]} → ${change[k]}`).join(", ");
    void act(r, `Change ${what} in the ${r.name}?`, "PATCH", r.routes.settings, change).then(() => {
      for (const input of form.querySelectorAll("input")) input.dataset.dirty = "";
    });
  });
  for (const input of form.querySelectorAll("input")) input.addEventListener("input", () => (input.dataset.dirty = "1"));
  reset.addEventListener("click", () => {
    const r = current.get(room.id) ?? room;
    const c = r.configured;
    if (!r.routes.reset) return;
    void act(
      r,
      `Set the ${r.name} back to its configuration (batch ${c.batch}, tick ${c.tickMs} ms, max active ${c.maxActive})?`,
      "DELETE",
      r.routes.reset,
    ).then(() => {
      for (const input of form.querySelectorAll("input")) input.dataset.dirty = "";
    });
  });
  card.append(el("h3", {}, "Controls"), el("div", { class: "actions" }, toggle), form, saleControls(room));
  return card;
}

/** What a concert room's sale is doing now (by this tab's clock). */
function saleState(sale: Sale, now = Date.now()): { state: "scheduled" | "prequeue" | "open" | "closed"; text: string } {
  const at = (iso: string) => new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" });
  const opens = sale.opensAt === null ? null : Date.parse(sale.opensAt);
  const closes = sale.closesAt === null ? null : Date.parse(sale.closesAt);
  if (closes !== null && closes <= now) return { state: "closed", text: `closed ${at(sale.closesAt!)}` };
  const until = closes === null ? "" : `, closes ${at(sale.closesAt!)}`;
  if (opens === null || opens <= now) return { state: "open", text: `open${until}` };
  const prequeueFrom = opens - (sale.prequeueSec ?? 0) * 1000;
  return {
    state: prequeueFrom <= now ? "prequeue" : "scheduled",
    text: `${prequeueFrom <= now ? "pre-queue; opens" : "opens"} ${at(sale.opensAt!)} (in ${fmtSec(Math.ceil((opens - now) / 1000))})${until}`,
  };
}

/**
 * Open now (saleOpensAt = now: the pre-queue's lottery is drawn at once), close now (saleClosesAt
 * = now) and set the opening time: each a PATCH of the room's settings, confirmed first. The
 * general room has no schedule: always open.
 */
function saleControls(room: Room): HTMLElement {
  const box = el("fieldset", { class: "sale", "data-control": "sale" }, el("legend", {}, "Sale"));
  if (!room.sale) {
    box.setAttribute("disabled", "");
    box.append(el("p", { class: "hint" }, "The general room has no scheduled sale: it is always open. Concert rooms have these controls."));
    return box;
  }
  const openNow = el("button", { type: "button", "data-control": "open-now" }, "Open the sale now");
  const closeNow = el("button", { type: "button", "data-control": "close-now" }, "Close the sale now");
  openNow.addEventListener("click", () => {
    const r = current.get(room.id) ?? room;
    const now = new Date().toISOString();
    const closed = r.sale?.closesAt != null && Date.parse(r.sale.closesAt) <= Date.now();
    const pre = r.prequeued ? ` The ${fmtNum(r.prequeued)} in the pre-queue are drawn into a random order at once;` : "";
    void act(
      r,
      `Open the sale of ${r.name} now?${pre} everyone who comes later queues behind them.${closed ? " This also removes the close." : ""}`,
      "PATCH",
      r.routes.settings,
      closed ? { saleOpensAt: now, saleClosesAt: null } : { saleOpensAt: now },
    );
  });
  closeNow.addEventListener("click", () => {
    const r = current.get(room.id) ?? room;
    void act(
      r,
      `Close the sale of ${r.name} now? Nobody new can join, and the ${fmtNum(r.waiting)} waiting are told the sale is closed.`,
      "PATCH",
      r.routes.settings,
      { saleClosesAt: new Date().toISOString() },
    );
  });
  const id = `room-${room.id}-opens-at`;
  const schedule = el(
    "form",
    { class: "settings", "data-control": "opening", novalidate: "" },
    el(
      "div",
      {},
      el("label", { for: id }, "Opening time (your time zone)"),
      el("input", { id, name: "opensAt", type: "datetime-local", step: "1", required: "" }),
    ),
    el("div", { class: "actions" }, el("button", { type: "submit", "data-control": "set-opening" }, "Set the opening time")),
    el("p", { class: "hint" }, "The opening time can be changed until the sale opens (its lottery is drawn once, at the opening)."),
  );
  schedule.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const r = current.get(room.id) ?? room;
    const input = schedule.elements.namedItem("opensAt") as HTMLInputElement;
    const at = input.value ? new Date(input.value) : null;
    if (!at || Number.isNaN(at.getTime())) return alertShown("Opening time: choose a date and a time.");
    const when = at.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" });
    const past = at.getTime() <= Date.now() ? " That time has passed: the sale opens at once." : "";
    void act(r, `Set the opening of ${r.name} to ${when} (${at.toISOString()})?${past}`, "PATCH", r.routes.settings, {
      saleOpensAt: at.toISOString(),
    }).then(() => (input.dataset.dirty = ""));
  });
  schedule.querySelector("input")!.addEventListener("input", (ev) => ((ev.target as HTMLInputElement).dataset.dirty = "1"));
  box.append(el("div", { class: "actions" }, openNow, closeNow), schedule);
  return box;
}

/** A Date as a datetime-local input's value (local time, seconds). */
const localInput = (d: Date) => {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
};

const current = new Map<string, Room>();

function fill(card: HTMLElement, room: Room, history: HistorySample[] | null, windowMs: number): void {
  const set = (name: string, text: string, value?: number | null) => {
    const dd = card.querySelector<HTMLElement>(`[data-fig="${name}"]`)!;
    dd.textContent = text;
    dd.dataset.value = value === undefined || value === null ? "" : String(value);
  };
  set("state", room.paused ? "paused" : "admitting");
  card.dataset.paused = String(room.paused);
  set("waiting", fmtNum(room.waiting), room.waiting);
  set("prequeued", room.prequeued === null ? "no pre-queue" : fmtNum(room.prequeued), room.prequeued);
  set("active", `${fmtNum(room.active)} of ${fmtNum(room.settings.maxActive)}`, room.active);
  set("admittedLastMinute", fmtNum(room.admittedLastMinute), room.admittedLastMinute);
  set("lastWait", room.paused && room.waiting > 0 ? "paused" : fmtSec(room.lastWaitSec), room.lastWaitSec);
  set("oldestWait", fmtSec(room.oldestWaitSec), room.oldestWaitSec);
  const b = room.booking;
  set("bookingErrors", !b ? "–" : b.requests === 0 ? "no requests" : `${fmtRate(b.errorRate)} of ${fmtNum(b.requests)}`, b?.errorRate);
  set("bookingP99", b && b.p99Sec !== null ? `${b.p99AboveMax ? "> " : "≤ "}${b.p99Sec * 1000} ms` : "–", b?.p99Sec);

  const toggle = card.querySelector<HTMLButtonElement>('[data-control="pause"]')!;
  toggle.textContent = room.paused ? "Resume admission" : "Pause admission";
  for (const input of card.querySelectorAll<HTMLInputElement>(".settings input")) {
    if (input.dataset.dirty !== "1" && document.activeElement !== input) input.value = String(room.settings[input.name as keyof Settings]);
  }

  if (room.sale) {
    const sale = saleState(room.sale);
    set("sale", sale.text);
    card.dataset.sale = sale.state;
    const inv = room.inventory;
    set("seatsLeft", inv ? `${fmtNum(inv.free)} · ${fmtNum(inv.held)} · ${fmtNum(inv.sold)}` : "not counted yet", inv?.free);
    const l = room.lottery;
    set(
      "lottery",
      l ? `drawn ${new Date(l.drawnAt).toLocaleTimeString("en-GB")} among ${fmtNum(l.participants)}` : "not drawn",
      l?.participants,
    );
    card.querySelector<HTMLButtonElement>('[data-control="open-now"]')!.disabled = sale.state === "open";
    card.querySelector<HTMLButtonElement>('[data-control="close-now"]')!.disabled = sale.state !== "open";
    const opensAt = card.querySelector<HTMLInputElement>('[data-control="opening"] input')!;
    const beforeOpening = sale.state === "scheduled" || sale.state === "prequeue";
    opensAt.disabled = !beforeOpening;
    card.querySelector<HTMLButtonElement>('[data-control="set-opening"]')!.disabled = !beforeOpening;
    if (opensAt.dataset.dirty !== "1" && document.activeElement !== opensAt) {
      opensAt.value = room.sale.opensAt ? localInput(new Date(room.sale.opensAt)) : "";
    }
  }

  const rows = card.querySelector("[data-seats]")!;
  const dates = room.seats?.dates ?? [];
  rows.replaceChildren(
    ...(room.seats === null
      ? [el("tr", {}, el("td", { colspan: "4" }, "Booking has not reported its seats in the last minute."))]
      : dates.length === 0
        ? [el("tr", {}, el("td", { colspan: "4" }, "No future dates."))]
        : dates.map((d) =>
            el(
              "tr",
              { "data-date": String(d.concertDetailId) },
              el("td", {}, new Date(d.startsAt).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" })),
              el("td", {}, fmtNum(d.free)),
              el("td", {}, fmtNum(d.held)),
              el("td", {}, fmtNum(d.sold)),
            ),
          )),
  );

  if (history) {
    const to = Date.now();
    for (const key of ["waiting", "admittedLastMinute", "active", "sold"] as const) {
      const fig = card.querySelector<HTMLElement>(`[data-chart="${key}"]`)!;
      const points = history.map((s) => [s.at, s[key]] as [number, number | null]);
      drawChart(fig.querySelector(".chart-plot")!, {
        title: fig.querySelector("figcaption")!.firstChild!.textContent!,
        points,
        from: to - windowMs,
        to,
      });
      const last = points.at(-1)?.[1];
      fig.querySelector(".chart-last")!.textContent = last === undefined || last === null ? "" : `(now ${fmtNum(last)})`;
    }
  }
}

/** What an entry changed: each control that differs, before → after. */
function changeOf(e: AuditEntry): string {
  if (e.outcome !== "applied") return `refused (${e.outcome})`;
  const flat = (v: unknown): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    const walk = (o: unknown, prefix: string) => {
      if (o && typeof o === "object" && !Array.isArray(o)) for (const [k, x] of Object.entries(o)) walk(x, prefix ? `${prefix}.${k}` : k);
      else out[prefix] = o;
    };
    walk(v, "");
    return out;
  };
  const [b, a] = [flat(e.before), flat(e.after)];
  // nothing before (a concert made): what was made
  if (e.before === null || e.before === undefined) {
    const made = Object.entries(a).filter(([k]) => k !== "");
    return made.length ? made.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ") : "no change";
  }
  const diffs = [...new Set([...Object.keys(b), ...Object.keys(a)])]
    .filter((k) => k !== "overridden" && JSON.stringify(b[k]) !== JSON.stringify(a[k]))
    .map((k) => `${k.replace(/^settings\./, "")}: ${JSON.stringify(b[k])} → ${JSON.stringify(a[k])}`);
  return diffs.length ? diffs.join(", ") : "no change";
}

function renderAudit(entries: AuditEntry[]): void {
  $("audit-rows").replaceChildren(
    ...entries.map((e) =>
      el(
        "tr",
        { "data-action": e.action, "data-id": e.id },
        el("td", {}, el("time", { datetime: e.at }, new Date(e.at).toLocaleTimeString("en-GB"))),
        el("td", {}, e.operator ?? "(not named)"),
        el("td", {}, `${e.action}${e.concertId === null ? "" : ` · concert ${e.concertId}`}`),
        el("td", {}, changeOf(e)),
      ),
    ),
  );
}

async function refresh(): Promise<void> {
  window.clearTimeout(timer);
  if (!creds || busy) return;
  busy = true;
  const c = creds;
  try {
    const [rooms, audit] = await Promise.all([listRooms(c), readAudit(c)]);
    const histories = await Promise.all(rooms.map((r) => readHistory(c, r.routes.history).catch(() => null)));
    const host = $("rooms");
    // a room no longer listed (its concert lost its room) goes
    const listed = new Set(rooms.map((r) => r.id));
    for (const card of host.querySelectorAll<HTMLElement>("[data-room]")) {
      if (!listed.has(card.dataset.room!)) {
        card.remove();
        current.delete(card.dataset.room!);
      }
    }
    rooms.forEach((room, i) => {
      current.set(room.id, room);
      let card = host.querySelector<HTMLElement>(`[data-room="${room.id}"]`);
      if (!card) host.append((card = roomCard(room)));
      const h = histories[i];
      fill(card, room, h?.samples ?? null, h?.windowMs ?? 30 * 60_000);
    });
    renderAudit(audit.entries);
    $("updated").textContent = `Updated ${new Date().toLocaleTimeString("en-GB")}`;
    document.body.dataset.updatedAt = String(Date.now());
  } catch (err) {
    const e = err as AdminError;
    if (e.status === 401 || e.status === 403) {
      busy = false;
      return signOut("The operator credential was refused; sign in again.");
    }
    notice(`Figures could not be refreshed (${e.message}); retrying.`);
  } finally {
    busy = false;
  }
  if (creds) timer = window.setTimeout(() => void refresh(), POLL_MS);
}

// a tab that was signed in (a reload) carries on
const saved = session.load();
if (saved) void signIn(saved);
document.body.dataset.ready = "true";
