import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { ErrorCodes } from "./errors";

export { OpenAPIRegistry };

/** `{ result, error: null }` around a result schema. */
export const okEnvelope = <T extends z.ZodType>(result: T) => z.object({ result, error: z.null() });

export const errorEnvelope = z.object({
  result: z.null(),
  error: z.object({
    code: z.enum(Object.keys(ErrorCodes) as [keyof typeof ErrorCodes, ...(keyof typeof ErrorCodes)[]]),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});

const STATUS_TEXT: Record<number, string> = {
  400: "Invalid input (VALIDATION_FAILED names the field; AMOUNT_MISMATCH)",
  401: "Missing, malformed, unknown, expired or used token (TOKEN_INVALID); AUTH_MODE=jwt: no bearer (AUTH_REQUIRED) or a bad one (AUTH_INVALID), with WWW-Authenticate",
  403: "Token of another user or still waiting (TOKEN_USER_MISMATCH, TOKEN_NOT_ACTIVE, NOT_OWNER); AUTH_MODE=jwt: a user other than the verified one (USER_MISMATCH)",
  404: "Unknown concert, performance, seat or reservation (NOT_FOUND)",
  409: "Conflict with the current state (SEAT_UNAVAILABLE, HOLD_LIMIT, HOLD_EXPIRED, ALREADY_PAID, INSUFFICIENT_POINTS, BALANCE_LIMIT, IDEMPOTENCY_CONFLICT)",
  413: "Body too large (PAYLOAD_TOO_LARGE)",
  429: "Too many token requests, or too many open streams of one token or client (RATE_LIMITED), see Retry-After",
  503: "Redis, Postgres or booking unavailable, or no room for another stream (SERVICE_UNAVAILABLE), see Retry-After",
};

/**
 * Registers one route with its success answer (a JSON result in the envelope, or another media
 * type as it is) and the error statuses it can answer.
 */
export function jsonRoute(
  registry: OpenAPIRegistry,
  route: Omit<RouteConfig, "responses"> & {
    ok: z.ZodType | { contentType: string; schema: z.ZodType };
    okStatus?: number;
    okDescription: string;
    errors: number[];
  },
): void {
  const { ok, okStatus = 200, okDescription, errors, ...config } = route;
  const content =
    ok instanceof z.ZodType ? { "application/json": { schema: okEnvelope(ok) } } : { [ok.contentType]: { schema: ok.schema } };
  const responses: RouteConfig["responses"] = { [okStatus]: { description: okDescription, content } };
  for (const status of [...errors, 503]) {
    responses[status] = { description: STATUS_TEXT[status] ?? "Error", content: { "application/json": { schema: errorEnvelope } } };
  }
  registry.registerPath({ ...config, responses });
}

export function generateDocument(
  registry: OpenAPIRegistry,
  info: { title: string; version: string; description: string },
): ReturnType<OpenApiGeneratorV31["generateDocument"]> {
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({ openapi: "3.1.0", info });
}
