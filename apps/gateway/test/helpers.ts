import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import express from "express";
import { DEV_PASSPORT_SECRET, createLogger, verifyPassport, type Passport } from "@concert/shared";
import { loadConfig } from "../src/config";
import { buildGateway, type Gateway } from "../src/gateway";

export const uniqueName = (tag: string) => `${tag}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

export interface RunningGateway {
  url: string;
  gateway: Gateway;
  close(): Promise<void>;
}

/** A gateway on port 0 with its own queue name (so tests never share keys); no ticker unless asked. */
export async function startGateway(env: Record<string, string> = {}): Promise<RunningGateway> {
  const config = loadConfig({ NODE_ENV: "test", QUEUE_NAME: uniqueName("gw"), PORT: "0", TOKEN_RATE_LIMIT: "0", ...env });
  const gateway = await buildGateway(config, createLogger("gateway", "silent"));
  const server = createServer(gateway.handler).listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    gateway,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await gateway.close();
    },
  };
}

export interface SeenRequest {
  method: string;
  path: string;
  body: unknown;
  passport: Passport;
  requestId: string | undefined;
  idempotencyKey: string | undefined;
}

/** A stand-in booking service that verifies the passport and records what reached it. */
export async function startFakeBooking(): Promise<{ url: string; seen: SeenRequest[]; close(): Promise<void> }> {
  const seen: SeenRequest[] = [];
  const app = express();
  app.use(express.json());
  app.use((req, res) => {
    try {
      const passport = verifyPassport(DEV_PASSPORT_SECRET, req.headers["x-queue-passport"]);
      seen.push({
        method: req.method,
        path: req.originalUrl,
        body: req.body,
        passport,
        requestId: req.headers["x-request-id"] as string | undefined,
        idempotencyKey: req.headers["idempotency-key"] as string | undefined,
      });
      res.status(200).json({ result: { echoed: true }, error: null });
    } catch {
      res.status(401).json({ result: null, error: { code: "PASSPORT_INVALID", message: "no" } });
    }
  });
  const server: Server = createServer(app).listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export async function call(
  url: string,
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(url + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** A port nobody listens on. */
export async function closedPort(): Promise<number> {
  const s = createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A dedicated redis-server on a spare port, so a test may stop and restart it. */
export async function startRedisServer(port?: number): Promise<{ port: number; url: string; stop(): Promise<void> }> {
  const p = port ?? (await closedPort());
  const child: ChildProcess = spawn("redis-server", ["--port", String(p), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("Ready to accept connections")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`redis-server exited ${code}`)));
  });
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await once(child, "exit");
    },
  };
}

export const GATEWAY_MAIN = join(__dirname, "..", "dist", "main.js");
