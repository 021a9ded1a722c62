import type { IncomingHttpHeaders } from "node:http";
import type { RequestHandler } from "express";
import { AppError, ROUTES, ok, parseOr400, uuid, type IssueProof } from "@concert/shared";
import type { QueueService } from "../queue/queue-service";
import type { ExpressHandlers } from "./public-routes";

/** Reads the `token` header (the seed's name); 401 TOKEN_INVALID when missing or not a UUID. */
export function tokenHeader(raw: unknown): string {
  if (typeof raw !== "string" || raw.length === 0) throw new AppError("TOKEN_INVALID", "Missing queue token (header `token`)");
  if (!uuid.safeParse(raw).success) throw new AppError("TOKEN_INVALID", "Malformed queue token");
  return raw.toLowerCase();
}

/**
 * What an issue shows to get a user's live token back: being the verified user (AUTH_MODE=jwt), or
 * the `token` header, when it is a queue token. A malformed one counts as none rather than being
 * refused with a 400, because either way it cannot be the live token: the answer is the same 409
 * ALREADY_QUEUED a wrong token gets while the user holds a place (the route does not tell a wrong
 * token from a garbled one), and a new place when the user has none (a client's stale storage does
 * not stop it queueing).
 */
export function issueProof(headers: IncomingHttpHeaders, verifiedUserId: number | undefined): IssueProof {
  const raw = headers.token;
  const presented = typeof raw === "string" && uuid.safeParse(raw).success ? { presentedToken: raw.toLowerCase() } : {};
  return verifiedUserId === undefined ? presented : { ...presented, verified: true };
}

/**
 * The queue routes on Express: every form of them the hot path (hot-routes.ts) leaves to Express.
 * `issueLimits`: the per-address limit, and in AUTH_MODE=jwt the per-user one (after the identity step).
 */
export function queueHandlers(queue: QueueService, issueLimits: RequestHandler[]): ExpressHandlers {
  const issueToken: RequestHandler = async (req, res) => {
    const { userId, concertId } = parseOr400(ROUTES.issueToken.body, req.body);
    res.locals.userId = userId;
    res.json(ok(await queue.issueToken(userId, issueProof(req.headers, res.locals.verifiedUserId as number | undefined), concertId)));
  };
  const pollToken: RequestHandler = async (req, res) => {
    const { userId } = parseOr400(ROUTES.pollToken.params, req.params, "userId");
    res.locals.userId = userId;
    const token = tokenHeader(req.headers.token);
    res.json(ok(await queue.tokenView(userId, token)));
  };
  return { issueToken: [...issueLimits, issueToken], pollToken: [pollToken] };
}
