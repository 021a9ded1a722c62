import { bodyDigest, passportNonce, signPassport, type Passport } from "@concert/shared";

/** A request as the tests send it: a body that is a string or bytes goes on the wire as it is, anything else as JSON. */
export interface PassportRequest {
  method: string;
  /** path and query string, exactly as sent */
  path: string;
  body?: unknown;
}

/** What the passport vouches for besides the request (exp defaults to a minute from now, the nonce to a new one). */
export type PassportClaims = Omit<Passport, "method" | "path" | "bodyDigest" | "exp" | "nonce"> & { exp?: number; nonce?: string };

/** The body bytes {@link httpCall} sends for `body`. */
function wireBody(body: unknown): Uint8Array | string | undefined {
  return body === undefined || typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
}

/**
 * A passport signed with `secret` for exactly this request, as the gateway makes one: the tests'
 * one way to talk to booking directly (a passport made for another request is refused).
 */
export function signPassportFor(secret: string, request: PassportRequest, claims: PassportClaims): string {
  return signPassport(secret, {
    exp: Date.now() + 60_000,
    nonce: passportNonce(),
    ...claims,
    method: request.method.toUpperCase(),
    path: request.path,
    bodyDigest: bodyDigest(wireBody(request.body)),
  });
}
