import { createHash, createHmac, randomFillSync, timingSafeEqual } from "node:crypto";
import { AppError } from "./errors";

/**
 * The request a passport was made for: booking refuses it for any other, so a passport read off
 * the wire is good for nothing but the one request the gateway sent it with (and its own expiry).
 */
export interface PassportBinding {
  /** HTTP method, upper case, as sent */
  method: string;
  /** the exact path and query string sent to booking */
  path: string;
  /** {@link bodyDigest} of the exact body bytes sent (of no bytes when there is no body) */
  bodyDigest: string;
}

/**
 * The passport is what the gateway vouches for when it forwards a request to booking: the user
 * (on token routes the token's or the verified user; on point routes the user the request names),
 * the queue token, the request id, an expiry, and the one request it was made for.
 * Format: `v2.<base64url(JSON payload)>.<base64url(HMAC-SHA256(secret, "v2." + payload))>`.
 */
export interface Passport extends PassportBinding {
  /** the user the gateway vouches for; every user id the request names must be this one */
  userId: number;
  /**
   * an operator's request (booking's internal routes, INTERNAL_PATHS, accept only these); its
   * userId is {@link OPERATOR_USER_ID}, no user's
   */
  operator?: true;
  /** the queue token the request was authorised with (token routes) */
  queueToken?: string;
  /** true when the token was already finished by its payment (payment replay window) */
  replay?: boolean;
  /**
   * random, one per passport ({@link passportNonce}): booking accepts a passport for a write once
   * (booking marks it used in Redis until the passport expires), so even the exact request it was made for cannot be replayed
   */
  nonce: string;
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
/** the userId of an operator passport (the field is required): the largest id, meant as no user */
export const OPERATOR_USER_ID = 2_147_483_647;
// v2: the payload names the request it was made for (v1 passports are refused as malformed)
const VERSION = "v2";
// node refuses a request whose headers pass 16 KiB, so no genuine passport is longer
const MAX_HEADER_LENGTH = 16_384;

const digestOf = (body: Uint8Array | string) => createHash("sha256").update(body).digest("base64url");
// most forwarded requests have no body (every GET and DELETE): their digest is one constant
const NO_BODY_DIGEST = digestOf("");

/** SHA-256 of the body bytes, base64url; a request without a body digests as zero bytes. */
export function bodyDigest(body?: Uint8Array | string): string {
  return body === undefined || body.length === 0 ? NO_BODY_DIGEST : digestOf(body);
}

const NONCE_BYTES = 12;
const NONCE_PATTERN = /^[A-Za-z0-9_-]{16}$/;
// random bytes drawn a few KiB at a time, each used once (as node's randomUUID does): one
// randomBytes call per passport was a visible share of the gateway's CPU per forward
const noncePool = Buffer.alloc(NONCE_BYTES * 512);
let nonceOffset = noncePool.length;

/** A new passport's nonce: 96 random bits, base64url. */
export function passportNonce(): string {
  if (nonceOffset === noncePool.length) {
    randomFillSync(noncePool);
    nonceOffset = 0;
  }
  nonceOffset += NONCE_BYTES;
  return noncePool.toString("base64url", nonceOffset - NONCE_BYTES, nonceOffset);
}

function mac(secret: string, data: string): Buffer {
  return createHmac("sha256", secret).update(data).digest();
}

export function signPassport(secret: string, passport: Passport): string {
  const body = Buffer.from(JSON.stringify(passport)).toString("base64url");
  const signed = `${VERSION}.${body}`;
  return `${signed}.${mac(secret, signed).toString("base64url")}`;
}

const invalid = (why: string) => new AppError("PASSPORT_INVALID", `Missing or invalid passport: ${why}`);

const isId = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 0;

/** The payload's fields have the types the gateway signs (a correct signature over a wrong shape is still refused). */
function wellFormed(p: Partial<Passport> | null): p is Passport {
  return (
    typeof p === "object" &&
    p !== null &&
    typeof p.exp === "number" &&
    isId(p.userId) &&
    typeof p.method === "string" &&
    typeof p.path === "string" &&
    typeof p.bodyDigest === "string" &&
    typeof p.nonce === "string" &&
    NONCE_PATTERN.test(p.nonce) &&
    (p.deadline === undefined || Number.isSafeInteger(p.deadline))
  );
}

/** Which part of the request differs from the one the passport was made for, or undefined. */
function unboundPart(p: PassportBinding, request: PassportBinding): string | undefined {
  if (p.method !== request.method) return "method";
  if (p.path !== request.path) return "path";
  if (p.bodyDigest !== request.bodyDigest) return "body";
  return undefined;
}

/**
 * Verifies signature, shape, expiry and that the passport was made for this very request
 * (method, path and query, body bytes); throws 401 PASSPORT_INVALID otherwise.
 */
export function verifyPassport(secret: string, header: unknown, request: PassportBinding, now = Date.now()): Passport {
  if (typeof header !== "string" || header.length === 0) throw invalid("absent");
  if (header.length > MAX_HEADER_LENGTH) throw invalid("too long");
  const parts = header.split(".");
  if (parts.length !== 3 || parts[0] !== VERSION) throw invalid("malformed");
  const expected = mac(secret, `${parts[0]}.${parts[1]}`);
  const given = Buffer.from(parts[2], "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid("bad signature");
  let payload: Partial<Passport> | null;
  try {
    payload = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8")) as Partial<Passport> | null;
  } catch {
    throw invalid("malformed");
  }
  if (!wellFormed(payload)) throw invalid("malformed");
  if (payload.exp < now) throw invalid("expired");
  const part = unboundPart(payload, request);
  if (part) throw invalid(`bound to another request (${part})`);
  return payload;
}
