import { Router, type NextFunction, type Request, type Response } from "express";
import { AppError, type QueueStore } from "@concert/shared";
import type { Forwarder } from "../forward/forwarder";
import { tokenHeader } from "./queue-routes";

/** User ids the request names (body `userId`); each must be the token's user. */
function namedUserIds(req: Request): unknown[] {
  const body = req.body;
  if (body && typeof body === "object" && !Array.isArray(body) && "userId" in body) return [body.userId];
  return [];
}

/**
 * Booking routes. Concert, reservation and payment routes need an active token whose user matches
 * any userId in the request; point routes go through without one, as the seed says.
 */
export function forwardRoutes(store: QueueStore, forwarder: Forwarder): Router {
  const router = Router();

  const protectedRoute = async (req: Request, res: Response) => {
    const token = tokenHeader(req.headers.token);
    const auth = await store.authorize(token);
    if (auth.replay && !(req.method === "POST" && req.path.replace(/\/+$/, "") === "/api/payment")) {
      throw new AppError("TOKEN_INVALID", "This token was used for a payment; queue again");
    }
    for (const named of namedUserIds(req)) {
      if (typeof named === "number" && named !== auth.userId) {
        throw new AppError("TOKEN_USER_MISMATCH", "userId does not match the queue token's user");
      }
    }
    await forwarder.forward(req, res, { userId: auth.userId, tokenId: token, replay: auth.replay || undefined });
  };

  const openRoute = async (req: Request, res: Response) => {
    await forwarder.forward(req, res, {});
  };

  router.all(["/api/concert", "/api/concert/*rest"], protectedRoute);
  router.all(["/api/reservations", "/api/reservations/*rest"], protectedRoute);
  router.all(["/api/payment", "/api/payment/*rest"], protectedRoute);
  router.patch("/api/users/point", openRoute);
  router.get("/api/users/:userId/point", openRoute);
  return router;
}

export type { NextFunction };
