import type { IncomingMessage, ServerResponse } from "node:http";
import { ID_DIGITS } from "./api";
import { bodyError } from "./envelope";
import { MAX_ID } from "./limits";

/*
 * What the apps' hot routes on plain node:http in front of Express share (the gateway's
 * api/hot-routes.ts, booking's api/hot-api.ts): matching a route's canonical path (matchHotPath), reading a JSON
 * body as express.json reads it, and sending a JSON answer as Express's res.json sends it. They
 * take only the canonical forms below and leave every other form to Express.
 */

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** An Express path with `:param` ids as an anchored RegExp (every path param of the routes is an id). */
export function pathPattern(expressPath: string): RegExp {
  const parts = expressPath.split(/:\w+/);
  return new RegExp(`^${parts.map(escapeRegExp).join(`(${ID_DIGITS})`)}$`);
}

/** Every id a {@link pathPattern} match captured is a database id (larger ones are Express's 400 to answer). */
export function idsInRange(m: RegExpExecArray): boolean {
  for (let i = 1; i < m.length; i++) if (Number(m[i]) > MAX_ID) return false;
  return true;
}

/** A route's path as the hot path matches it: exactly (no params), or by its {@link pathPattern}. */
export interface HotPath {
  exact: string | null;
  pattern: RegExp | null;
}

/**
 * The route of `byMethod` (the routes by HTTP method) whose path the request's is, with the path
 * match (`ids[1]…` its `:param` ids) and the query string; null when none is, or when an id is out
 * of range (Express answers that 400).
 */
export function matchHotPath<R extends HotPath>(
  byMethod: ReadonlyMap<string, readonly R[]>,
  req: IncomingMessage,
): { route: R; ids: RegExpExecArray | null; query: string } | null {
  const routes = byMethod.get(req.method ?? "");
  if (routes === undefined) return null;
  const url = req.url ?? "";
  const q = url.indexOf("?");
  const path = q === -1 ? url : url.slice(0, q);
  for (const route of routes) {
    let ids: RegExpExecArray | null = null;
    if (route.pattern !== null) {
      ids = route.pattern.exec(path);
      if (ids === null) continue;
      if (!idsInRange(ids)) return null;
    } else if (path !== route.exact) continue;
    return { route, ids, query: q === -1 ? "" : url.slice(q + 1) };
  }
  return null;
}

/** Sends a JSON answer with the headers Express's res.json would (and x-request-id, Retry-After, the error's own). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  reqId: string,
  retryAfterSec?: number,
  headers?: Record<string, string>,
): void {
  const json = JSON.stringify(body);
  res.setHeader("x-request-id", reqId);
  if (retryAfterSec !== undefined) res.setHeader("Retry-After", String(retryAfterSec));
  for (const [name, value] of Object.entries(headers ?? {})) res.setHeader(name, value);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(json) });
  res.end(json);
}

/** Largest JSON body, bytes: on the hot routes and in express.json on the Express side. */
export const JSON_BODY_LIMIT = 16 * 1024;
const JSON_TYPE = /^application\/json\s*(;\s*charset="?utf-8"?\s*)?$/i;

/** A request as browsers send a GET: no body to read (Express serves any other form). */
export function hasNoBody(req: IncomingMessage): boolean {
  const h = req.headers;
  return h["transfer-encoding"] === undefined && (h["content-length"] === undefined || h["content-length"] === "0");
}

/** A JSON body in UTF-8, not encoded, not chunked, with a Content-Length within the limit. */
export function isPlainJson(req: IncomingMessage): boolean {
  const h = req.headers;
  const length = h["content-length"];
  return (
    JSON_TYPE.test(h["content-type"] ?? "") &&
    (h["content-encoding"] === undefined || h["content-encoding"] === "identity") &&
    h["transfer-encoding"] === undefined &&
    length !== undefined &&
    Number(length) <= JSON_BODY_LIMIT
  );
}

/** The body's bytes (of a request {@link isPlainJson} accepted: its Content-Length bounds them). */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", reject);
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
  });
}

/** Body bytes as express.json({ strict: true }) parses them: an object or array, {} when empty; else its 400. */
export function parseJsonBody(bytes: Buffer): unknown {
  const text = bytes.toString("utf8").trim();
  if (text === "") return {};
  if (text[0] !== "{" && text[0] !== "[") throw bodyError("entity.parse.failed");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw bodyError("entity.parse.failed");
  }
}

/** The body as express.json({ strict: true }) reads it: an object or array, {} when empty. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  return parseJsonBody(await readBody(req));
}
