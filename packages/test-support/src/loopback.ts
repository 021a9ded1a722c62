import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A test's own HTTP server on a spare loopback port. */
export interface LoopbackServer {
  url: string;
  /** closes the server and the connections still open to it (keep-alive clients would hold it) */
  close(): Promise<void>;
}

/** Starts `server` on 127.0.0.1, a spare port, and resolves once it listens. */
export async function listenLoopback(server: Server): Promise<LoopbackServer> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
