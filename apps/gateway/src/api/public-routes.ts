import { Router, type Request, type RequestHandler } from "express";
import { AppError, type RouteName } from "@concert/shared";
import { ROUTE_TABLE, type GatewayRoute } from "./route-table";

/** The gateway's own Express handlers ("hot" and "express" routes), by route name. */
export type ExpressHandlers = Partial<Record<RouteName, RequestHandler[]>>;

/**
 * Registers every route of the table at its method and path: the gateway's own handlers by name,
 * booking routes with the forward handler built from their entry, then the 405/OPTIONS answer of
 * each of their paths. `before` gives the steps in front of a route's handlers (the identity
 * step, auth/identity.ts). Throws at start when a route of the table has no handler, so a new
 * entry cannot be silently left unserved.
 */
export function publicRoutes(
  handlers: ExpressHandlers,
  forward: (route: GatewayRoute) => RequestHandler,
  before: (route: GatewayRoute) => RequestHandler[] = () => [],
  table: readonly GatewayRoute[] = ROUTE_TABLE,
): Router {
  const router = Router();
  for (const route of table) {
    const chain = route.served === "booking" ? [forward(route)] : handlers[route.name];
    if (!chain?.length) throw new Error(`route ${route.name} (${route.method.toUpperCase()} ${route.path}) has no Express handler`);
    router[route.method](route.path, ...before(route), ...chain);
  }
  router.use(methodNotAllowed(table));
  return router;
}

/** A method registered at a path (a route table entry, or a route of an Express router). */
export interface MethodAtPath {
  method: string;
  path: string;
}

/** The routes registered directly on `router` (e.g. `app.router`'s `/health`), not those of routers mounted in it. */
export function routesOf(router: Router): MethodAtPath[] {
  return router.stack.flatMap((layer) =>
    layer.route ? layer.route.stack.filter((l) => l.method).map((l) => ({ method: l.method, path: layer.route!.path })) : [],
  );
}

/**
 * For each distinct path of `routes` (its own methods pass on to the real handlers): any other
 * method is answered 405 METHOD_NOT_ALLOWED in the envelope, and OPTIONS 204; both with `Allow`
 * (the path's methods, HEAD where GET is, which Express serves with the GET handler, and
 * OPTIONS). Without this Express answers a wrong method 404 and OPTIONS with a plain-text list.
 */
export function methodNotAllowed(routes: readonly MethodAtPath[]): Router {
  const byPath = new Map<string, Set<string>>();
  for (const r of routes) {
    const methods = byPath.get(r.path) ?? new Set<string>();
    methods.add(r.method.toUpperCase());
    if (r.method.toUpperCase() === "GET") methods.add("HEAD");
    byPath.set(r.path, methods);
  }
  const router = Router();
  for (const [path, methods] of byPath) {
    const allow = [...methods, "OPTIONS"].join(", ");
    router.all(path, (req, res, next) => {
      if (methods.has(req.method)) return next(); // a real handler's method: this may sit in front of it
      res.setHeader("Allow", allow);
      if (req.method === "OPTIONS") {
        res.status(204).end();
        return;
      }
      throw new AppError("METHOD_NOT_ALLOWED", `${req.method} is not allowed on ${path}; allowed: ${allow}`);
    });
  }
  return router;
}

/** The log level of a successful request on Express: its table entry's, else info. */
export function successLevelOf(table: readonly GatewayRoute[] = ROUTE_TABLE): (req: Request, route: string) => "info" | "debug" {
  const levels = new Map(table.map((r) => [`${r.method.toUpperCase()} ${r.path}`, r.successLog]));
  return (req, route) => levels.get(`${req.method} ${route}`) ?? "info";
}
