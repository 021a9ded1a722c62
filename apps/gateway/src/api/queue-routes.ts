import { Router, type RequestHandler } from "express";
import { AppError, issueTokenBody, ok, parseOr400, userIdPath, uuid } from "@concert/shared";
import type { QueueService } from "../queue/queue-service";

/** Reads the `token` header (the seed's name); 401 TOKEN_INVALID when missing or not a UUID. */
export function tokenHeader(raw: unknown): string {
  if (typeof raw !== "string" || raw.length === 0) throw new AppError("TOKEN_INVALID", "Missing queue token (header `token`)");
  if (!uuid.safeParse(raw).success) throw new AppError("TOKEN_INVALID", "Malformed queue token");
  return raw.toLowerCase();
}

export function queueRoutes(queue: QueueService, issueLimit: RequestHandler): Router {
  const router = Router();

  router.post("/api/users/token", issueLimit, async (req, res) => {
    const { userId } = parseOr400(issueTokenBody, req.body);
    res.locals.userId = userId;
    res.json(ok(await queue.issueToken(userId)));
  });

  router.get("/api/users/:userId/token", async (req, res) => {
    const { userId } = parseOr400(userIdPath, req.params, "userId");
    res.locals.userId = userId;
    const token = tokenHeader(req.headers.token);
    res.json(ok(await queue.tokenView(userId, token)));
  });

  return router;
}
