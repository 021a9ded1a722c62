import { Router, type Request, type RequestHandler } from "express";
import type { RouteName } from "@concert/shared";
import { ROUTE_TABLE, type GatewayRoute } from "./route-table";

/** The gateway's own Express handlers ("hot" and "express" routes), by route name. */
export type ExpressHandlers = Partial<Record<RouteName, RequestHandler[]>>;

/**
 * Registers every route of the table at its method and path: the gateway's own handlers by name,
 * booking routes with the forward handler built from their entry. Throws at start when a route of
 * the table has no handler, so a new entry cannot be silently left unserved.
 */
export function publicRoutes(
  handlers: ExpressHandlers,
  forward: (route: GatewayRoute) => RequestHandler,
  table: readonly GatewayRoute[] = ROUTE_TABLE,
): Router {
  const router = Router();
  for (const route of table) {
    const chain = route.served === "booking" ? [forward(route)] : handlers[route.name];
    if (!chain?.length) throw new Error(`route ${route.name} (${route.method.toUpperCase()} ${route.path}) has no Express handler`);
    router[route.method](route.path, ...chain);
  }
  return router;
}

/** The log level of a successful request on Express: its table entry's, else info. */
export function successLevelOf(table: readonly GatewayRoute[] = ROUTE_TABLE): (req: Request, route: string) => "info" | "debug" {
  const levels = new Map(table.map((r) => [`${r.method.toUpperCase()} ${r.path}`, r.successLog]));
  return (req, route) => levels.get(`${req.method} ${route}`) ?? "info";
}
