import { Router } from "express";
import swaggerUi from "swagger-ui-express";
import { z } from "zod";
import { OpenAPIRegistry, generateDocument, jsonRoute, openApiPath, uuid } from "@concert/shared";
import { ROUTE_TABLE, type GatewayRoute } from "./route-table";

const tokenHeader = z.object({ token: uuid.describe("the queue token from POST /api/users/token") });

/** The request parts of a route: its contract's schemas, plus the `token` header its access needs. */
function requestOf(route: GatewayRoute) {
  // a route that takes the token in its query (the stream: EventSource cannot send headers) documents it there
  const tokenInHeader = route.access === "token" && route.query?.shape.token === undefined;
  const headers = tokenInHeader ? (route.headers ? tokenHeader.extend(route.headers.shape) : tokenHeader) : route.headers;
  return {
    ...(route.params && { params: route.params }),
    ...(route.query && { query: route.query }),
    ...(headers && { headers }),
    ...(route.body && { body: { content: { "application/json": { schema: route.body } } } }),
  };
}

/** The name of the bearer JWT scheme in the document (routes whose table entry says `verifiedUser`). */
export const BEARER_SCHEME = "bearerAuth";

/** A route's `security` and the statuses the bearer adds to its errors (AUTH_MODE=jwt: 401 AUTH_*, 403 USER_MISMATCH). */
function bearerOf(route: GatewayRoute): { security?: Record<string, string[]>[]; errors: number[] } {
  if (!route.verifiedUser) return { errors: route.doc.errors };
  const errors = [...new Set([...route.doc.errors, 401, 403])].sort((a, b) => a - b);
  return { security: [{ [BEARER_SCHEME]: [] }], errors };
}

/** The gateway's public API as OpenAPI 3.1, generated from the route table and the zod schemas that validate it. */
export function buildOpenApiDocument(): ReturnType<typeof generateDocument> {
  const r = new OpenAPIRegistry();
  r.registerComponent("securitySchemes", BEARER_SCHEME, {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description:
      "AUTH_MODE=jwt: the identity provider's JWT (`Authorization: Bearer <JWT>`); the user is its AUTH_USER_CLAIM. AUTH_MODE=none: not needed, the request names its user. In jwt mode a `userId` in body or path is optional, must be the verified user (403 USER_MISMATCH), and `me` in a path is the verified user.",
  });
  for (const route of ROUTE_TABLE) {
    jsonRoute(r, { method: route.method, path: openApiPath(route.path), request: requestOf(route), ...route.doc, ...bearerOf(route) });
  }
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
