import { join } from "node:path";
import { MAX_ID } from "../api";
import { luaScript } from "../lua/loader";
import { refusalError, refusals } from "./codes";

/*
 * The queue's Lua protocol: one declaration per script (command name, KEYS and ARGV in order,
 * the codes it returns, the decoder of its reply). The loader writes the KEYS, ARGV and codes
 * into the script as locals of these names, so neither side spells a position or a code value.
 */

const LUA_DIR = join(__dirname, "lua");
/** what common.lua needs from TypeScript (a token's user id is a valid id) */
const constants = { MAX_ID };

export interface AdmissionSettings {
  tickMs: number;
  batch: number;
  maxActive: number;
}

/**
 * What blocked admission adds to a waiting user's wait, when the active set has no room for their
 * rank: the time until enough active tokens end, and how many slots must turn over after that
 * (when more are needed than are active). See lua/includes/slot-wait.lua.
 */
export interface SlotWait {
  inMs: number;
  slotsAfter: number;
}

export type PollResult =
  | { status: "WAITING"; rank: number; ratePerSec: number | null; blocked?: SlotWait; seatsHeld?: number }
  | { status: "PREQUEUED"; prequeueCount: number }
  | { status: "IN_PROGRESS"; expiresAt: number }
  | { status: "FINISHED"; reason: string };

export type AuthResult = { userId: number; expiresAt: number; replay: false } | { userId: number; replay: true };

export interface TickResult {
  ran: boolean;
  admitted: number;
  expired: number;
  evicted: number;
  /** the admission settings in force (configuration, or live overrides from operators) */
  settings: AdmissionSettings & { paused: boolean };
  /** how many wait and how many are active after the tick (a room with neither is idle) */
  waiting: number;
  active: number;
}

/** A scheduled room's opening (ms on the Redis clock): the pre-queue opens at prequeueFrom, the draw at opensAt. */
export interface SaleSchedule {
  opensAt: number;
  prequeueFrom: number;
  closesAt: number | null;
}

export interface IssueResult {
  token: string;
  status: "WAITING" | "IN_PROGRESS" | "PREQUEUED";
  rank: number | null;
  /** PREQUEUED: how many are in the pre-queue */
  prequeueCount?: number;
  /** this issue made the place (else it handed back the caller's live one) */
  created: boolean;
  blocked?: SlotWait;
}

/** The SlotWait of a reply's two trailing numbers, or undefined when admission is not blocked for the rank. */
function slotWait(inMs: unknown, slotsAfter: unknown): SlotWait | undefined {
  const ms = Number(inMs ?? 0);
  const after = Number(slotsAfter ?? 0);
  return ms > 0 || after > 0 ? { inMs: ms, slotsAfter: after } : undefined;
}

/**
 * What a caller shows that a user's live token is theirs to get back: the token itself (the
 * `token` header), or the gateway's verification of the caller as that user (jwt mode).
 */
export interface IssueProof {
  presentedToken?: string;
  verified?: boolean;
}

const ISSUE = {
  WAITING: 1,
  ACTIVE: 2,
  QUEUED: 3,
  PREQUEUED: 4,
  PREWAITING: 5,
  ...refusals("ALREADY_QUEUED", "SALE_NOT_OPEN", "SALE_CLOSED", "SOLD_OUT"),
} as const;
export const issueScript = luaScript({
  name: "qIssueToken",
  file: join(LUA_DIR, "issue-token-8.lua"),
  keys: ["seq", "waiting", "seen", "active", "users", "pre", "draw", "inv"],
  // maxActive: the admission limit in force ('' = do not look at the active set)
  // presentedToken: the caller's `token` header ('' = none); verified: '1' when the gateway verified the caller
  argv: {
    prefix: "string",
    userId: "string",
    newToken: "string",
    presentedToken: "string",
    verified: "string",
    maxActive: "string",
    retentionMs: "number",
    opensAt: "string",
    prequeueFrom: "string",
    closesAt: "string",
    clock: "string",
  },
  codes: ISSUE,
  constants,
  decode(reply): IssueResult {
    const [code, token, rank, slotInMs, slotsAfter] = reply as [number, string, number, number?, number?];
    if (code < 0) throw refusalError(code);
    if (code === ISSUE.ACTIVE) return { token, status: "IN_PROGRESS", rank: null, created: false };
    if (code === ISSUE.PREQUEUED || code === ISSUE.PREWAITING) {
      return { token, status: "PREQUEUED", rank: null, prequeueCount: Number(rank), created: code === ISSUE.PREQUEUED };
    }
    const blocked = slotWait(slotInMs, slotsAfter);
    return { token, status: "WAITING", rank: Number(rank), created: code === ISSUE.QUEUED, ...(blocked && { blocked }) };
  },
});

const POLL = { WAITING: 1, ADMITTED: 2, FINISHED: 3, PREQUEUED: 4, ...refusals("UNKNOWN_TOKEN", "OTHER_USER") } as const;
export const pollScript = luaScript({
  name: "qPoll",
  file: join(LUA_DIR, "poll-7.lua"),
  keys: ["waiting", "seen", "active", "rate", "users", "pre", "inv"],
  // maxActive: the admission limit in force ('' = do not look at the active set)
  argv: { prefix: "string", token: "string", userId: "string", maxActive: "string", retentionMs: "number", clock: "string" },
  codes: POLL,
  constants,
  decode(reply): PollResult {
    const [code, value, rate, slotInMs, slotsAfter, heldIfNoneFree] = reply as [
      number,
      number | string,
      string | undefined,
      number?,
      number?,
      number?,
    ];
    switch (code) {
      case POLL.WAITING: {
        const ratePerSec = rate === "" || rate === undefined ? null : Number(rate);
        const blocked = slotWait(slotInMs, slotsAfter);
        const held = Number(heldIfNoneFree ?? -1);
        return { status: "WAITING", rank: Number(value), ratePerSec, ...(blocked && { blocked }), ...(held >= 0 && { seatsHeld: held }) };
      }
      case POLL.PREQUEUED:
        return { status: "PREQUEUED", prequeueCount: Number(value) };
      case POLL.ADMITTED:
        return { status: "IN_PROGRESS", expiresAt: Number(value) };
      case POLL.FINISHED:
        return { status: "FINISHED", reason: String(value) };
      default:
        throw refusalError(code);
    }
  },
});

const AUTHORIZE = { ACTIVE: 1, REPLAY: 2, ...refusals("UNKNOWN_TOKEN", "STILL_WAITING", "TOKEN_USED", "SESSION_OVER") } as const;
export const authorizeScript = luaScript({
  name: "qAuthorize",
  file: join(LUA_DIR, "authorize-4.lua"),
  keys: ["waiting", "seen", "active", "users"],
  argv: {
    prefix: "string",
    token: "string",
    activeTtlMs: "number",
    sessionMaxMs: "number",
    // 1: the route finishes a purchase (payment), which a token past its cap may still call
    overtimeOk: "number",
    retentionMs: "number",
    replayMs: "number",
    clock: "string",
  },
  codes: AUTHORIZE,
  constants,
  decode(reply): AuthResult {
    const [code, userId, expiresAt] = reply as [number, string | number, number];
    switch (code) {
      case AUTHORIZE.ACTIVE:
        return { userId: Number(userId), expiresAt: Number(expiresAt), replay: false };
      case AUTHORIZE.REPLAY:
        return { userId: Number(userId), replay: true };
      default:
        throw refusalError(code);
    }
  },
});

const TICK = { SKIPPED: 0, RAN: 1 } as const;
export const tickScript = luaScript({
  name: "qTick",
  file: join(LUA_DIR, "tick-12.lua"),
  keys: ["tick", "waiting", "seen", "active", "admits", "rate", "cfg", "stats", "users", "pre", "draw", "inv"],
  argv: {
    prefix: "string",
    // the configured settings; operators' live overrides in `cfg` win over them
    defaultTickMs: "number",
    defaultBatch: "number",
    defaultMaxActive: "number",
    activeTtlMs: "number",
    sessionMaxMs: "number",
    idleTtlMs: "number",
    retentionMs: "number",
    maxSweep: "number",
    opensAt: "string",
    closesAt: "string",
    admitPerFreeSeat: "string",
    clock: "string",
  },
  codes: TICK,
  constants,
  decode(reply): TickResult {
    const [code, admitted, expired, evicted, tickMs, batch, maxActive, paused, waiting, active] = (reply as (number | string)[]).map(
      Number,
    );
    return {
      ran: code === TICK.RAN,
      admitted,
      expired,
      evicted,
      settings: { tickMs, batch, maxActive, paused: paused === 1 },
      waiting,
      active,
    };
  },
});

const DRAW = { DRAWN: 1, ALREADY: 2, NOT_YET: 3 } as const;
export type DrawOutcome = { drawn: true; moved: number; leftovers: number } | { drawn: false; why: "ALREADY" | "NOT_YET" };
export const drawScript = luaScript({
  name: "qDraw",
  file: join(LUA_DIR, "draw-3.lua"),
  keys: ["waiting", "pre", "draw"],
  argv: { order: "string", opensAt: "number", record: "string", clock: "string" },
  codes: DRAW,
  constants,
  decode(reply): DrawOutcome {
    const [code, moved, leftovers] = (reply as number[]).map(Number);
    if (code === DRAW.DRAWN) return { drawn: true, moved, leftovers };
    return { drawn: false, why: code === DRAW.ALREADY ? "ALREADY" : "NOT_YET" };
  },
});

const EXTEND = { NOT_ACTIVE: 0, EXTENDED: 1 } as const;
export const extendScript = luaScript({
  name: "qExtend",
  file: join(LUA_DIR, "extend-1.lua"),
  keys: ["active"],
  // untilMs: an absolute time ('' = forMs from now on the script's clock)
  argv: { prefix: "string", token: "string", untilMs: "string", forMs: "number", clock: "string" },
  codes: EXTEND,
  constants,
  decode: (reply): boolean => reply === EXTEND.EXTENDED,
});

const WITHDRAW = { KEPT: 0, WITHDRAWN: 1 } as const;
export const withdrawScript = luaScript({
  name: "qWithdraw",
  file: join(LUA_DIR, "withdraw-3.lua"),
  keys: ["waiting", "seen", "users"],
  argv: { userId: "string", token: "string" },
  codes: WITHDRAW,
  constants,
  decode: (reply): boolean => reply === WITHDRAW.WITHDRAWN,
});

const FINISH = { UNKNOWN_OR_FINISHED: 0, FINISHED: 1 } as const;
export const finishScript = luaScript({
  name: "qFinish",
  file: join(LUA_DIR, "finish-4.lua"),
  keys: ["waiting", "seen", "active", "users"],
  argv: { prefix: "string", token: "string", reason: "string", retentionMs: "number", clock: "string" },
  codes: FINISH,
  constants,
  decode: (reply): boolean => reply === FINISH.FINISHED,
});

/** Every queue script (the protocol test reads each one's Lua against its codes). */
export const QUEUE_SCRIPTS = [issueScript, withdrawScript, pollScript, authorizeScript, tickScript, drawScript, extendScript, finishScript];
