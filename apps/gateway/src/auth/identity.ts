import type { IncomingMessage } from "node:http";
import type { RequestHandler } from "express";
import { AppError, ID_PATTERN, pathOf } from "@concert/shared";
import type { GatewayRoute } from "../api/route-table";
import { authInvalid, authRequired, type BearerVerifier } from "./verifier";

/** The path alias of the verified user in AUTH_MODE=jwt: `/api/users/me/token`, `/api/users/me/point`. */
export const ME = "me";

/**
 * Who is asking. AUTH_MODE=none: nobody is verified (the user the request names is trusted, as
 * the seed's API does). AUTH_MODE=jwt: the user of the `Authorization: Bearer` JWT, verified.
 */
export interface Identity {
  readonly mode: "none" | "jwt";
  /** the verified user (jwt), undefined (none); 401 AUTH_REQUIRED / AUTH_INVALID for a missing or bad bearer */
  verifiedUser(req: IncomingMessage): Promise<number | undefined>;
}

export const TRUST_CLIENT: Identity = { mode: "none", verifiedUser: () => Promise.resolve(undefined) };

/** The JWT of `Authorization: Bearer <JWT>` (scheme case-insensitive, RFC 7235); 401 AUTH_REQUIRED without one. */
export function bearerOf(header: string | undefined): string {
  const m = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
  if (m === null) {
    if (header !== undefined && /^Bearer\b/i.test(header)) throw authInvalid(); // the scheme, but no token68
    throw authRequired();
  }
  return m[1];
}

export function verifiedIdentity(verifier: BearerVerifier): Identity {
  return { mode: "jwt", verifiedUser: (req) => verifier.verify(bearerOf(req.headers.authorization)) };
}

/** The parts of a request that may name its user: the path's params, the JSON body. */
export interface NamedUser {
  params?: Record<string, unknown>;
  body?: unknown;
}

const mismatch = () => new AppError("USER_MISMATCH", "The request names a user other than the verified one");

/**
 * Binds what a request of `route` names as its user (its `:userId`, its body's `userId`, per the
 * route's contract) to the verified user: a different user is 403 USER_MISMATCH; `me` in the path
 * and an absent body `userId` become the verified user, so what is validated and forwarded is a
 * complete request (booking's schemas are the same in both modes). A value that is no id at all is
 * left for the route's validation (400). Nothing to do without a verified user (AUTH_MODE=none).
 */
export function bindUser(route: GatewayRoute, verified: number | undefined, named: NamedUser): void {
  if (verified === undefined) return;
  if (route.userAt === "path" && named.params) {
    const given = named.params.userId;
    if (given === ME) named.params.userId = String(verified);
    else if (typeof given === "string" && ID_PATTERN.test(given) && Number(given) !== verified) throw mismatch();
  }
  const body = named.body;
  if (route.userAt === "body" && body !== null && typeof body === "object" && !Array.isArray(body)) {
    const fields = body as Record<string, unknown>;
    if (fields.userId === undefined) fields.userId = verified;
    else if (typeof fields.userId === "number" && fields.userId !== verified) throw mismatch();
  }
}

/**
 * The Express step in front of a route that needs the verified user (the table's `verifiedUser`),
 * in AUTH_MODE=jwt: the bearer (401), then the user the request names (403), before any other
 * check. It keeps the user in `res.locals.verifiedUserId` and, when the path said `me`, rewrites
 * the URL to the user's id (what the forwarder sends on and the passport is bound to).
 */
export function identityStep(identity: Identity): (route: GatewayRoute) => RequestHandler[] {
  return (route) => {
    if (identity.mode === "none" || !route.verifiedUser) return [];
    const step: RequestHandler = async (req, res, next) => {
      const verified = await identity.verifiedUser(req);
      res.locals.verifiedUserId = verified;
      const wasMe = req.params.userId === ME;
      if (route.userAt === "body" && req.body === undefined) req.body = {}; // a bodyless request names nobody: the verified user
      bindUser(route, verified, req);
      if (wasMe) {
        const q = req.originalUrl.indexOf("?");
        req.originalUrl = pathOf(route.name, req.params as Record<string, string>) + (q === -1 ? "" : req.originalUrl.slice(q));
      }
      next();
    };
    return [step];
  };
}
