import type { RequestHandler } from "express";
import { AppError, ROUTES, ok, parseOr400, uuid } from "@concert/shared";
import type { QueueService } from "../queue/queue-service";
import type { ExpressHandlers } from "./public-routes";

/** Reads the `token` header (the seed's name); 401 TOKEN_INVALID when missing or not a UUID. */
export function tokenHeader(raw: unknown): string {
  if (typeof raw !== "string" || raw.length === 0) throw new AppError("TOKEN_INVALID", "Missing queue token (header `token`)");
  if (!uuid.safeParse(raw).success) throw new AppError("TOKEN_INVALID", "Malformed queue token");
  return raw.toLowerCase();
}

/**
 * The queue routes on Express: every form of them the hot path (hot-routes.ts) leaves to Express.
 * `issueLimits`: the per-address limit, and in AUTH_MODE=jwt the per-user one (after the identity step).
 */
export function queueHandlers(queue: QueueService, issueLimits: RequestHandler[]): ExpressHandlers {
  const issueToken: RequestHandler = async (req, res) => {
    const { userId } = parseOr400(ROUTES.issueToken.body, req.body);
    res.locals.userId = userId;
    // MERGE(requeue): queue.issueToken(userId, { presentedToken: req.headers.token, verified: res.locals.verifiedUserId !== undefined })
    res.json(ok(await queue.issueToken(userId)));
  };
  const pollToken: RequestHandler = async (req, res) => {
    const { userId } = parseOr400(ROUTES.pollToken.params, req.params, "userId");
    res.locals.userId = userId;
    const token = tokenHeader(req.headers.token);
    res.json(ok(await queue.tokenView(userId, token)));
  };
  return { issueToken: [...issueLimits, issueToken], pollToken: [pollToken] };
}
