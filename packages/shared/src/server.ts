import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import type { Logger } from "pino";
import { intVar } from "./config";
import { answerClientError } from "./errors";

/**
 * The node:http timeouts both apps' servers run with, as environment variables each app spreads
 * into its schema. Node's own defaults let a client hold a descriptor for a minute or more by
 * sending nothing, or a body one byte at a time for five minutes.
 */
export const httpServerEnv = {
  /** the request line and every header must have arrived this long after the connection (or the last answer) */
  HTTP_HEADERS_TIMEOUT_MS: intVar(10_000, 100, 120_000),
  /** the whole request, body included, must have arrived this long after it started (then 408) */
  HTTP_REQUEST_TIMEOUT_MS: intVar(30_000, 100, 600_000),
  /**
   * an idle keep-alive connection is closed this long after its last answer: longer than the idle
   * timeout of whatever keeps connections to this server (nginx upstream and AWS ALB use 60 s, the
   * gateway's booking pool up to a minute), so the server never closes a connection the other side
   * is about to reuse
   */
  HTTP_KEEPALIVE_TIMEOUT_MS: intVar(65_000, 1_000, 600_000),
  /** a socket with no traffic either way this long is closed (an event stream turns it off for its socket) */
  HTTP_IDLE_TIMEOUT_MS: intVar(30_000, 1_000, 600_000),
};

export type HttpServerSettings = { [K in keyof typeof httpServerEnv]: number };

/**
 * A node:http server with the {@link httpServerEnv} timeouts, whose unparseable or timed-out
 * requests (a 408 included) are answered with the error envelope. Node checks the header and request
 * timeouts only every `connectionsCheckingInterval` (30 s by default), so the check runs often
 * enough here for a connection to be cut close to its bound.
 */
export function createHttpServer(listener: RequestListener, settings: HttpServerSettings): Server {
  const server = createServer(
    {
      // Node refuses a header timeout longer than the request's, which covers the headers too
      headersTimeout: Math.min(settings.HTTP_HEADERS_TIMEOUT_MS, settings.HTTP_REQUEST_TIMEOUT_MS),
      requestTimeout: settings.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeout: settings.HTTP_KEEPALIVE_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(1_000, settings.HTTP_HEADERS_TIMEOUT_MS / 2),
    },
    listener,
  );
  server.timeout = settings.HTTP_IDLE_TIMEOUT_MS;
  server.on("clientError", answerClientError);
  return server;
}

export interface ServeOptions {
  logger: Logger;
  /** longest a stop may take before the process exits 1 */
  deadlineMs?: number;
  /** before the server stops accepting (e.g. stop the admission tick, end SSE streams) */
  beforeClose?: () => Promise<void> | void;
  /** after the last in-flight request was answered (e.g. stop the sweeper, close Redis and Prisma) */
  afterClose: () => Promise<unknown>;
}

/**
 * A graceful stop on SIGTERM/SIGINT for a server from {@link createHttpServer}. Requests in
 * flight finish, and each of their keep-alive connections closes right after its answer
 * (Connection: close): Node's
 * server.close() only closes the connections idle at that moment; the others would linger until
 * the client's keep-alive timeout (the gateway keeps booking connections up to a minute) and the
 * stop would miss its deadline. Exits 0 when done.
 */
export function serveGracefully(server: Server, options: ServeOptions): void {
  const { logger, deadlineMs = 10_000 } = options;
  let stopping = false;
  const inFlight = new Set<ServerResponse>();
  server.prependListener("request", (_req: IncomingMessage, res: ServerResponse) => {
    if (stopping) res.setHeader("connection", "close");
    inFlight.add(res);
    res.once("close", () => inFlight.delete(res));
  });

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    setTimeout(() => {
      logger.error("shutdown deadline passed; exiting");
      process.exit(1);
    }, deadlineMs).unref();
    for (const res of inFlight) if (!res.headersSent) res.setHeader("connection", "close");
    await options.beforeClose?.();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await options.afterClose();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}
