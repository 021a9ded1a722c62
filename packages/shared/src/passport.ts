import { createHmac, timingSafeEqual } from "node:crypto";
import { AppError } from "./errors";

/**
 * The passport is what the gateway vouches for when it forwards a request to booking:
 * the verified user and queue token (absent on point routes), the request id, and an expiry.
 * Format: `v1.<base64url(JSON payload)>.<base64url(HMAC-SHA256(secret, "v1." + payload))>`.
 */
export interface Passport {
  /** verified user id; absent on routes that need no queue token */
  userId?: number;
  /** the queue token the request was authorised with */
  queueToken?: string;
  /** true when the token was already finished by its payment (payment replay window) */
  replay?: boolean;
  /** request id, for following one request across both apps */
  requestId?: string;
  /** expiry, ms since epoch */
  exp: number;
  /**
   * ms since epoch when the gateway stops waiting for the answer: booking must not commit work
   * after it (the client was told 503 and may retry)
   */
  deadline?: number;
}

export const PASSPORT_HEADER = "x-queue-passport";
const VERSION = "v1";

function mac(secret: string, data: string): Buffer {
  return createHmac("sha256", secret).update(data).digest();
}

export function signPassport(secret: string, passport: Passport): string {
  const body = Buffer.from(JSON.stringify(passport)).toString("base64url");
  const signed = `${VERSION}.${body}`;
  return `${signed}.${mac(secret, signed).toString("base64url")}`;
}

const invalid = (why: string) => new AppError("PASSPORT_INVALID", `Missing or invalid passport: ${why}`);

/** Verifies signature and expiry; throws 401 PASSPORT_INVALID otherwise. */
export function verifyPassport(secret: string, header: unknown, now = Date.now()): Passport {
  if (typeof header !== "string" || header.length === 0) throw invalid("absent");
  if (header.length > 2048) throw invalid("too long");
  const parts = header.split(".");
  if (parts.length !== 3 || parts[0] !== VERSION) throw invalid("malformed");
  const expected = mac(secret, `${parts[0]}.${parts[1]}`);
  const given = Buffer.from(parts[2], "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid("bad signature");
  let payload: Passport;
  try {
    payload = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8")) as Passport;
  } catch {
    throw invalid("malformed");
  }
  if (!payload || typeof payload.exp !== "number") throw invalid("malformed");
  if (payload.exp < now) throw invalid("expired");
  if (payload.userId !== undefined && !(Number.isSafeInteger(payload.userId) && payload.userId > 0)) throw invalid("malformed");
  if (payload.deadline !== undefined && !Number.isSafeInteger(payload.deadline)) throw invalid("malformed");
  return payload;
}
