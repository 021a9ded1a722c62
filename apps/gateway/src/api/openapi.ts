import { Router } from "express";
import swaggerUi from "swagger-ui-express";
import { z } from "zod";
import {
  OpenAPIRegistry,
  chargeBody,
  errorEnvelope,
  generateDocument,
  holdView,
  issueTokenBody,
  jsonRoute,
  paymentBody,
  paymentView,
  pointView,
  reserveBody,
  scheduleList,
  seatList,
  tokenView,
} from "@concert/shared";

const tokenHeader = z.object({ token: z.string().uuid().describe("the queue token from POST /api/users/token") });
const idPath = (name: string) =>
  z.object({
    [name]: z
      .string()
      .regex(/^[1-9][0-9]{0,9}$/)
      .describe("positive integer id"),
  });
const json = <T extends z.ZodType>(schema: T) => ({ body: { content: { "application/json": { schema } } } });

/** The gateway's public API as OpenAPI 3.1, generated from the zod schemas that validate it. */
export function buildOpenApiDocument(): ReturnType<typeof generateDocument> {
  const r = new OpenAPIRegistry();
  jsonRoute(r, {
    method: "post",
    path: "/api/users/token",
    summary: "Join the queue (or get your live token and place back)",
    request: json(issueTokenBody),
    ok: tokenView,
    okDescription: "The user's token, status, rank (1 = next in) and estimated wait",
    errors: [400, 413, 429],
  });
  jsonRoute(r, {
    method: "get",
    path: "/api/users/{userId}/token",
    summary: "Poll a token: status, rank and estimated wait (also the waiting token's heartbeat)",
    request: { params: idPath("userId"), headers: tokenHeader },
    ok: tokenView,
    okDescription: "WAITING with a rank, IN_PROGRESS once admitted, FINISHED when expired, evicted or used",
    errors: [400, 401, 403],
  });
  jsonRoute(r, {
    method: "get",
    path: "/api/concert/{concertId}/date",
    summary: "Future performances of a concert that still have a free seat",
    request: { params: idPath("concertId"), headers: tokenHeader },
    ok: scheduleList,
    okDescription: "The concert's name and its bookable dates",
    errors: [400, 401, 403, 404],
  });
  jsonRoute(r, {
    method: "get",
    path: "/api/concert/{concertDetailId}/seat",
    summary: "Free seat numbers (1-50) of one performance",
    request: { params: idPath("concertDetailId"), headers: tokenHeader },
    ok: seatList,
    okDescription: "Seats neither sold nor held by an unexpired hold",
    errors: [400, 401, 403, 404],
  });
  jsonRoute(r, {
    method: "post",
    path: "/api/reservations",
    summary: "Hold a seat for SEAT_HOLD_TTL_SEC (default 5 minutes)",
    request: { headers: tokenHeader, ...json(reserveBody) },
    ok: holdView,
    okStatus: 201,
    okDescription: "The hold; pay before expiresAt",
    errors: [400, 401, 403, 404, 409, 413],
  });
  jsonRoute(r, {
    method: "patch",
    path: "/api/users/point",
    summary: "Charge points (no queue token needed)",
    request: json(chargeBody),
    ok: pointView,
    okDescription: "The new balance",
    errors: [400, 409, 413],
  });
  jsonRoute(r, {
    method: "get",
    path: "/api/users/{userId}/point",
    summary: "Read a balance (no queue token needed)",
    request: { params: idPath("userId") },
    ok: pointView,
    okDescription: "The balance (0 for unknown users)",
    errors: [400],
  });
  jsonRoute(r, {
    method: "post",
    path: "/api/payment",
    summary: "Pay one or several holds; finishes the queue token",
    request: {
      headers: tokenHeader.extend({
        "idempotency-key": z.string().max(128).optional().describe("retry with the same key to get the same answer"),
      }),
      ...json(paymentBody),
    },
    ok: paymentView,
    okDescription: "The payment; seats are confirmed",
    errors: [400, 401, 403, 404, 409, 413],
  });
  r.registerPath({
    method: "get",
    path: "/api/queue/stream",
    summary: "Server-Sent Events: the token's status, rank and wait whenever they change (instead of polling)",
    request: {
      query: z.object({
        userId: z
          .string()
          .regex(/^[1-9][0-9]{0,9}$/)
          .describe("the token's user"),
        token: z.string().uuid().optional().describe("the queue token (EventSource cannot send headers); or the `token` header"),
      }),
    },
    responses: {
      200: {
        description: "An event stream; each `data:` frame is `{status, rank, estimatedWaitSec}`; it ends when the token is FINISHED",
        content: { "text/event-stream": { schema: z.string() } },
      },
      400: { description: "Invalid userId", content: { "application/json": { schema: errorEnvelope } } },
      401: {
        description: "Missing, malformed or unknown token (TOKEN_INVALID)",
        content: { "application/json": { schema: errorEnvelope } },
      },
      403: { description: "Token of another user (TOKEN_USER_MISMATCH)", content: { "application/json": { schema: errorEnvelope } } },
      503: {
        description: "Redis unavailable (SERVICE_UNAVAILABLE), see Retry-After",
        content: { "application/json": { schema: errorEnvelope } },
      },
    },
  });
  return generateDocument(r, {
    title: "Concert ticketing gateway",
    version: "1.0.0",
    description:
      "Queue tokens, rank and wait estimate, and the booking API behind the queue. Every answer is `{ result, error }`. Operator routes (/admin/*), /health, /ready and /metrics are not part of the public API.",
  });
}

/** GET /openapi.json and the Swagger UI at /docs. */
export function openApiRoutes(): Router {
  const document = buildOpenApiDocument();
  const router = Router();
  router.get("/openapi.json", (_req, res) => {
    res.json(document);
  });
  router.use("/docs", swaggerUi.serve);
  router.get("/docs", swaggerUi.setup(document, { customSiteTitle: "Concert ticketing API" }));
  return router;
}
