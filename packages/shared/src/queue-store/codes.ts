import { AppError, type ErrorCode } from "../errors";

/**
 * The expected refusals of the queue scripts: small negative codes (the same code means the same
 * refusal in every script that returns it), each with the AppError it becomes. A script's own
 * `codes` (scripts.ts) picks the refusals it can return; the loader hands them to the Lua as
 * locals of these names.
 */
export const REFUSAL = {
  UNKNOWN_TOKEN: -1,
  OTHER_USER: -2,
  STILL_WAITING: -3,
  TOKEN_USED: -4,
  SESSION_OVER: -5,
  ALREADY_QUEUED: -6,
  SALE_NOT_OPEN: -7,
  SALE_CLOSED: -8,
  SOLD_OUT: -9,
} as const;

export type Refusal = keyof typeof REFUSAL;

/** A queue script's refusal as the client sees it, and which refusal it was (for metrics). */
export class QueueRefusal extends AppError {
  constructor(
    readonly refusal: Refusal,
    code: ErrorCode,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, details);
  }
}

const REFUSAL_ERRORS: Record<Refusal, [ErrorCode, string]> = {
  SALE_NOT_OPEN: ["SALE_NOT_OPEN", "This concert's sale has not opened yet: its waiting room opens prequeueSec before opensAt"],
  SALE_CLOSED: ["SALE_CLOSED", "This concert's sale is closed"],
  SOLD_OUT: ["SOLD_OUT", "This concert is sold out: every seat of its future dates is sold"],
  UNKNOWN_TOKEN: ["TOKEN_INVALID", "Unknown queue token"],
  OTHER_USER: ["TOKEN_USER_MISMATCH", "This token belongs to another user"],
  STILL_WAITING: ["TOKEN_NOT_ACTIVE", "This token is still waiting in the queue"],
  TOKEN_USED: ["TOKEN_INVALID", "This token has expired or was already used; queue again"],
  // 401 as for an expired token (clients queue again), though paying a held seat still passes
  SESSION_OVER: ["TOKEN_INVALID", "This queue session reached its time limit: only paying a held seat is still accepted; queue again"],
  // the live token goes only to whoever presents it: naming a user is not proof of being them
  ALREADY_QUEUED: [
    "ALREADY_QUEUED",
    "This user already has a live queue token: present it in the `token` header to resume. " +
      "A lost waiting place lapses after WAITING_IDLE_TTL_SEC without polls, an admitted one at the end of its session; then queue again",
  ],
};

const BY_CODE = new Map<number, Refusal>(Object.entries(REFUSAL).map(([name, code]) => [code, name as Refusal]));

/** The AppError of a refusal code; a code no script should return is a bug, not a refusal. */
export function refusalError(code: number, details?: Record<string, unknown>): AppError {
  const name = BY_CODE.get(code);
  if (!name) throw new Error(`a queue script returned unknown code ${code}`);
  const [errorCode, message] = REFUSAL_ERRORS[name];
  return new QueueRefusal(name, errorCode, message, details);
}

/** Some refusals by name, for a script's `codes`. */
export function refusals<N extends Refusal>(...names: N[]): { [K in N]: (typeof REFUSAL)[K] } {
  return Object.fromEntries(names.map((n) => [n, REFUSAL[n]])) as { [K in N]: (typeof REFUSAL)[K] };
}
