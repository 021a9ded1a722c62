import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { answerClientError } from "./errors";

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
 * What both apps' servers need around Express: unparseable requests answered with the error
 * envelope, and a graceful stop on SIGTERM/SIGINT. Requests in flight finish, and each of their
 * keep-alive connections closes right after its answer (Connection: close): Node's
 * server.close() only closes the connections idle at that moment; the others would linger until
 * the client's keep-alive timeout (the gateway keeps booking connections up to a minute) and the
 * stop would miss its deadline. Exits 0 when done.
 */
export function serveGracefully(server: Server, options: ServeOptions): void {
  const { logger, deadlineMs = 10_000 } = options;
  server.on("clientError", answerClientError);
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
