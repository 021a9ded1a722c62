import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { ConfigError, answerClientError } from "@concert/shared";
import { loadConfig } from "./config";
import { buildGateway } from "./gateway";

const SHUTDOWN_DEADLINE_MS = 10_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const gateway = await buildGateway(config);
  const server: Server = gateway.app.listen(config.PORT, config.HOST);
  await new Promise<void>((resolve, reject) => server.once("listening", resolve).once("error", reject));
  if (config.ADMISSION_ENABLED) gateway.ticker.start();
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  gateway.logger.info({ port, booking: config.BOOKING_URL, queue: config.QUEUE_NAME }, `gateway listening on http://127.0.0.1:${port}`);

  // Graceful stop: requests in flight finish and their keep-alive connections close right after
  // the answer (server.close() alone closes only the connections idle at that moment).
  server.on("clientError", answerClientError); // unparseable requests get the error envelope too
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
    for (const res of inFlight) if (!res.headersSent) res.setHeader("connection", "close");
    gateway.logger.info({ signal }, "shutting down");
    const deadline = setTimeout(() => {
      gateway.logger.error("shutdown deadline passed; exiting");
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    await gateway.ticker.stop();
    gateway.streams.close(); // SSE clients reconnect (to another instance) by themselves
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await gateway.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((err) => {
  // Start-up failures are the operator's to fix: one clear line, no stack trace.
  const message = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`gateway: ${message}\n`);
  process.exit(1);
});
