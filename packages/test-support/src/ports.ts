import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";

/** A loopback port nobody listens on right now: free for a server to take, or refused when called. */
export async function freePort(): Promise<number> {
  const s = createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** The same port, named for tests that want a connection refused. */
export const closedPort = freePort;
