import type { IncomingMessage, ServerResponse } from "node:http";
import { MAX_ID, errorAnswer, issueTokenBody, ok, parseOr400, recordRequest, requestId, type Logger, type Metrics } from "@concert/shared";
import type { QueueService } from "../queue/queue-service";
import type { TokenRateLimiter } from "./rate-limit";
import { tokenHeader } from "./queue-routes";

export interface HotRouteDeps {
  queue: QueueService;
  limiter: TokenRateLimiter;
  logger: Logger;
  metrics: Metrics;
  onDependencyError: (dependency: string) => void;
}

/** Largest JSON body, bytes: here and in express.json on the Express side. */
export const JSON_BODY_LIMIT = 16 * 1024;
const POLL_PATH = /^\/api\/users\/([1-9][0-9]{0,9})\/token$/;
const ISSUE_PATH = "/api/users/token";
const JSON_TYPE = /^application\/json\s*(;\s*charset="?utf-8"?\s*)?$/i;
const POLL_ROUTE = "/api/users/:userId/token";

type Handler = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * The two routes every waiting client calls, thousands of times a second during an on-sale:
 * `GET /api/users/{id}/token` (poll) and `POST /api/users/token` (issue). They are served here,
 * on plain node:http in front of Express, because Express's per-request machinery alone costs
 * more CPU than the whole poll (see docs/BENCHMARKS.md, scenario 1). Only the canonical form of
 * each request is taken: a numeric user id, a JSON body with a Content-Length within the limit and
 * no Content-Encoding. Anything else (returns false) goes on to Express, which serves the same
 * routes with the same QueueService and answers every odd form (405s, encodings, chunked bodies)
 * as before. Answers are the same as Express's: envelope, status, x-request-id, Retry-After, the
 * log line and the latency histogram.
 */
export function hotQueueRoutes(deps: HotRouteDeps): Handler {
  return (req, res) => {
    const url = req.url ?? "";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    if (req.method === "GET") {
      const m = POLL_PATH.exec(path);
      if (!m) return false;
      const userId = Number(m[1]);
      if (userId > MAX_ID) return false; // Express answers the 400
      serve(deps, req, res, POLL_ROUTE, "debug", userId, async () => deps.queue.tokenView(userId, tokenHeader(req.headers.token)));
      return true;
    }
    if (req.method === "POST" && path === ISSUE_PATH && isPlainJson(req)) {
      serve(deps, req, res, ISSUE_PATH, "info", undefined, async (record) => {
        const body = await readJson(req);
        await deps.limiter.consume(req);
        const { userId } = parseOr400(issueTokenBody, body);
        record.userId = userId;
        return deps.queue.issueToken(userId);
      });
      return true;
    }
    return false;
  };
}

function serve(
  deps: HotRouteDeps,
  req: IncomingMessage,
  res: ServerResponse,
  route: string,
  successLevel: "info" | "debug",
  userId: number | undefined,
  /** an async function: whatever it throws becomes the error answer */
  work: (record: { userId?: number }) => Promise<unknown>,
): void {
  const started = process.hrtime.bigint();
  const reqId = requestId(req);
  const record = { userId };
  const finish = (status: number, body: unknown, retryAfterSec?: number) => {
    const json = JSON.stringify(body);
    res.setHeader("x-request-id", reqId);
    if (retryAfterSec !== undefined) res.setHeader("Retry-After", String(retryAfterSec));
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(json) });
    res.end(json);
    recordRequest(
      deps.logger,
      deps.metrics,
      { reqId, method: req.method, route, url: req.url ?? "", status, started, userId: record.userId },
      successLevel,
    );
  };
  work(record).then(
    (result) => finish(200, ok(result)),
    (err) => {
      if (res.headersSent || res.destroyed) return;
      const answer = errorAnswer(err, deps.logger, reqId, { onDependencyError: deps.onDependencyError });
      finish(answer.status, answer.body, answer.retryAfterSec);
    },
  );
}

function isPlainJson(req: IncomingMessage): boolean {
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

const NOT_JSON = Object.assign(new Error("Request body is not valid JSON"), { type: "entity.parse.failed" });

/** The body as express.json({ strict: true }) reads it: an object or array, {} when empty. */
function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", reject);
    req.on("end", () => {
      const text = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString("utf8").trim();
      if (text === "") return resolve({});
      if (text[0] !== "{" && text[0] !== "[") return reject(NOT_JSON);
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(NOT_JSON);
      }
    });
  });
}
