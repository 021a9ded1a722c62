import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import express from "express";
import pino from "pino";
import { Metrics } from "../src/metrics";
import { observeRequests } from "../src/http";

describe("request logs", () => {
  it("write one JSON line per request with id, route, status and user, masking a token in the query", async () => {
    const lines: any[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    const app = express();
    app.use(
      observeRequests(pino({ level: "info" }, sink), new Metrics("t"), {
        successLevel: (req) => (req.path === "/quiet" ? "debug" : "info"),
      }),
    );
    app.get("/api/things/:id", (_req, res) => {
      res.locals.userId = 5;
      res.json({ ok: true });
    });
    app.get("/quiet", (_req, res) => res.json({}));
    const server = app.listen(0, "127.0.0.1");
    await once(server, "listening");
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const r = await fetch(`${base}/api/things/9?token=secret-uuid&x=1`, { headers: { "x-request-id": "abc-1" } });
      expect(r.headers.get("x-request-id")).toBe("abc-1");
      await fetch(`${base}/quiet`);
      await new Promise((res) => setTimeout(res, 20));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        reqId: "abc-1",
        method: "GET",
        route: "/api/things/:id",
        status: 200,
        userId: 5,
        url: "/api/things/9?token=***&x=1",
      });
      expect(JSON.stringify(lines)).not.toContain("secret-uuid");
    } finally {
      server.close();
    }
  });
});
