import { once } from "node:events";
import type { Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { createHttpServer, createLogger } from "@concert/shared";
import { loadConfig } from "../src/config";
import { buildGateway, type Gateway } from "../src/gateway";
import { call, uniqueName } from "./helpers";

/** What a raw connection saw: the bytes the server sent and how long after `started` it closed. */
interface Seen {
  socket: Socket;
  text: () => string;
  closed: Promise<number>;
}

function rawConnection(port: number): Seen {
  const socket = connect(port, "127.0.0.1");
  const started = Date.now();
  let text = "";
  socket.setEncoding("utf8");
  socket.on("data", (d: string) => (text += d));
  socket.on("error", () => {});
  const closed = once(socket, "close").then(() => Date.now() - started);
  return { socket, text: () => text, closed };
}

/** Writes `data` one byte every `everyMs` until the socket closes. */
function trickle(socket: Socket, data: string, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= data.length) return clearInterval(timer);
    socket.write(data[i++]);
  }, everyMs);
  socket.once("close", () => clearInterval(timer));
}

/**
 * The gateway listening the way main.ts listens (createHttpServer with the config's timeouts),
 * with short timeouts so each bound shows within a second or two.
 */
async function startWith(env: Record<string, string>): Promise<{ port: number; gateway: Gateway; close(): Promise<void> }> {
  const config = loadConfig({ NODE_ENV: "test", QUEUE_NAME: uniqueName("gw-timeouts"), TOKEN_RATE_LIMIT: "0", ...env });
  const gateway = await buildGateway(config, createLogger("gateway", "silent"));
  const server: Server = createHttpServer(gateway.handler, config).listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    gateway,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await gateway.close();
    },
  };
}

describe("the gateway's HTTP timeouts", () => {
  let gw: Awaited<ReturnType<typeof startWith>>;
  beforeAll(async () => {
    gw = await startWith({
      HTTP_HEADERS_TIMEOUT_MS: "500",
      HTTP_REQUEST_TIMEOUT_MS: "1500",
      HTTP_KEEPALIVE_TIMEOUT_MS: "1000",
      HTTP_IDLE_TIMEOUT_MS: "5000",
    });
  });
  afterAll(() => gw.close());

  it("closes a connection that sends nothing within the header timeout, not the idle one", async () => {
    const c = rawConnection(gw.port);
    const ms = await c.closed;
    expect(ms).toBeGreaterThanOrEqual(400);
    expect(ms).toBeLessThan(2_000);
  });

  it("cuts headers sent one byte at a time at the header timeout", async () => {
    const c = rawConnection(gw.port);
    trickle(c.socket, "GET /health HTTP/1.1\r\nhost: x\r\nx-slow: " + "a".repeat(100), 50);
    const ms = await c.closed;
    expect(ms).toBeLessThan(2_000);
    expect(c.text()).not.toMatch(/^HTTP\/1\.1 200/);
  });

  it("cuts a body sent one byte at a time at the request timeout, with a 408 in the envelope", async () => {
    const body = JSON.stringify({ userId: 901, pad: "x".repeat(200) });
    const c = rawConnection(gw.port);
    c.socket.write(`POST /api/users/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`);
    trickle(c.socket, body, 100);
    const ms = await c.closed;
    expect(ms).toBeGreaterThanOrEqual(1_000);
    expect(ms).toBeLessThan(3_500);
    expect(c.text()).toMatch(/^HTTP\/1\.1 408[\s\S]*"code":"VALIDATION_FAILED"/);
  });

  it("closes an idle keep-alive connection after the keep-alive timeout", async () => {
    const c = rawConnection(gw.port);
    c.socket.write("GET /health HTTP/1.1\r\nhost: x\r\n\r\n");
    const ms = await c.closed;
    expect(c.text()).toMatch(/^HTTP\/1\.1 200/);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(3_000);
  });

  it("keeps an event stream open past the request, idle and keep-alive timeouts", async () => {
    const base = `http://127.0.0.1:${gw.port}`;
    const { token } = (await call(base, "POST", "/api/users/token", { body: { userId: 902 } })).body.result;
    const c = rawConnection(gw.port);
    c.socket.write(`GET /api/queue/stream?userId=902&token=${token} HTTP/1.1\r\nhost: x\r\n\r\n`);
    const outcome = await Promise.race([c.closed.then(() => "closed"), new Promise((r) => setTimeout(() => r("open"), 6_000))]);
    expect(outcome).toBe("open");
    expect(c.text()).toMatch(/^HTTP\/1\.1 200[\s\S]*text\/event-stream[\s\S]*data: \{"status":"WAITING"/);
    expect(gw.gateway.streams.size).toBe(1);
    c.socket.destroy();
  }, 15_000);
});

describe("the idle timeout", () => {
  let gw: Awaited<ReturnType<typeof startWith>>;
  beforeAll(async () => {
    gw = await startWith({ HTTP_HEADERS_TIMEOUT_MS: "5000", HTTP_REQUEST_TIMEOUT_MS: "10000", HTTP_IDLE_TIMEOUT_MS: "1000" });
  });
  afterAll(() => gw.close());

  it("closes a connection whose request stopped arriving long before the request timeout", async () => {
    const c = rawConnection(gw.port);
    c.socket.write("POST /api/users/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n{");
    const ms = await c.closed;
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(3_000);
  });
});
