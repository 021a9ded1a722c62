import type { IncomingMessage } from "node:http";
import type { RequestHandler } from "express";
import { AppError, ROUTES, parseOr400 } from "@concert/shared";
import type { QueueStreams } from "../queue/queue-streams";
import type { ExpressHandlers } from "./public-routes";
import { tokenHeader } from "./queue-routes";

/**
 * `GET /api/queue/stream?userId=&token=`: the queue view as Server-Sent Events. `clientIp` is the
 * rate limiter's resolver (TRUST_PROXY applied), so the per-client stream cap counts the same address.
 */
export function streamHandlers(streams: QueueStreams, clientIp: (req: IncomingMessage) => string): ExpressHandlers {
  const queueStream: RequestHandler = async (req, res) => {
    const query = parseOr400(ROUTES.queueStream.query, req.query, "query");
    const given = query.token ?? req.headers.token;
    if (given === undefined) throw new AppError("TOKEN_INVALID", "Missing queue token (query `token`)");
    await streams.open(req, res, query.userId, tokenHeader(given), clientIp(req));
  };
  return { queueStream: [queueStream] };
}
