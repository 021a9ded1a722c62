import type { Server } from "node:http";
import { ConfigError, createHttpServer, serveGracefully } from "@concert/shared";
import { loadConfig } from "./config";
import { buildGateway } from "./gateway";

async function main(): Promise<void> {
  const config = loadConfig();
  const gateway = await buildGateway(config);
  const server: Server = createHttpServer(gateway.handler, config).listen(config.PORT, config.HOST);
  await new Promise<void>((resolve, reject) => server.once("listening", resolve).once("error", reject));
  if (config.ADMISSION_ENABLED) gateway.ticker.start();
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  gateway.logger.info({ port, booking: config.BOOKING_URL, queue: config.QUEUE_NAME }, `gateway listening on http://127.0.0.1:${port}`);

  serveGracefully(server, {
    logger: gateway.logger,
    beforeClose: async () => {
      await gateway.ticker.stop();
      gateway.streams.close(); // SSE clients reconnect (to another instance) by themselves
    },
    afterClose: () => gateway.close(),
  });
}

main().catch((err) => {
  // Start-up failures are the operator's to fix: one clear line, no stack trace.
  const message = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`gateway: ${message}\n`);
  process.exit(1);
});
