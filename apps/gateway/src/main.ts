import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError, createHttpServer, createLogger, serveGracefully } from "@concert/shared";
import { TRUST_EVERY_HOP } from "./api/rate-limit";
import { loadConfig } from "./config";
import { buildGateway } from "./gateway";

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger("gateway", config.LOG_LEVEL);
  if (config.AUTH_MODE === "none" && config.NODE_ENV === "production")
    logger.warn(
      "AUTH_MODE=none: user ids are trusted from the client; anyone may act as any user. Set AUTH_MODE=jwt with your identity provider's keys (README, Verified users).",
    );
  const gateway = await buildGateway(config, logger);
  if (config.TRUST_PROXY === TRUST_EVERY_HOP)
    gateway.logger.warn(
      "TRUST_PROXY=true believes every X-Forwarded-For hop: a client that reaches this gateway without the load balancer chooses its own address. Give the hop count or the load balancers' addresses instead, and keep the gateway reachable only through them.",
    );
  const server: Server = createHttpServer(gateway.handler, config).listen(config.PORT, config.HOST);
  await new Promise<void>((resolve, reject) => server.once("listening", resolve).once("error", reject));
  if (config.ADMISSION_ENABLED) {
    gateway.ticker.start();
    gateway.roomTicker.start();
  }
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  gateway.logger.info({ port, booking: config.BOOKING_URL, queue: config.QUEUE_NAME }, `gateway listening on http://127.0.0.1:${port}`);
  const metricsServer =
    config.METRICS_PORT === undefined
      ? undefined
      : gateway.metrics.app(gateway.logger, config.METRICS_TOKEN).listen(config.METRICS_PORT, config.HOST);
  if (metricsServer) {
    // a taken port stops the start with one line (main's catch), like any other start failure
    await new Promise<void>((resolve, reject) => metricsServer.once("listening", resolve).once("error", reject));
    gateway.logger.info({ metricsPort: (metricsServer.address() as AddressInfo).port }, "metrics listening");
  }

  serveGracefully(server, {
    logger: gateway.logger,
    beforeClose: async () => {
      await gateway.ticker.stop();
      await gateway.roomTicker.stop();
      gateway.streams.close(); // SSE clients reconnect (to another instance) by themselves
    },
    afterClose: async () => {
      metricsServer?.close();
      await gateway.close();
    },
  });
}

main().catch((err) => {
  // Start-up failures are the operator's to fix: one clear line, no stack trace.
  const message = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`gateway: ${message}\n`);
  process.exit(1);
});
