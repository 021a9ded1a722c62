import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import express from "express";
import pino from "pino";
import { Metrics } from "../src/metrics";
import { logUrl, observeRequests } from "../src/http";

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

describe("logUrl: the URL as logged", () => {
  it.each([
    ["a percent-encoded name the query parser reads as token", "/s?userId=1&%74oken=T1", "/s?userId=1&%74oken=***"],
    ["every spelling the parser decodes to token", "/s?%74%6F%6B%65%6E=T1&tok%65n=T2", "/s?%74%6F%6B%65%6E=***&tok%65n=***"],
    ["token given twice", "/s?token=T1&userId=1&token=T2", "/s?token=***&userId=1&token=***"],
    ["token first, with an empty value", "/s?token=&x=1", "/s?token=***&x=1"],
  ])("masks %s", (_name, url, logged) => {
    expect(logUrl(url)).toBe(logged);
  });

  it("leaves names the parser does not read as token alone (case, other names, no value)", () => {
    for (const url of ["/s?TOKEN=a", "/s?tokens=a&xtoken=b", "/s?token", "/s/token=a", "/s"]) expect(logUrl(url)).toBe(url);
  });

  it("cuts the URL to 256 characters, masking a token value that the cut splits", () => {
    const url = `/s?${"a".repeat(240)}=1&token=${"T".repeat(40)}`;
    const logged = logUrl(url);
    expect(logged).toBe(`/s?${"a".repeat(240)}=1&token=***`);
    expect(logUrl(`/${"p".repeat(400)}`)).toHaveLength(256);
  });
});
