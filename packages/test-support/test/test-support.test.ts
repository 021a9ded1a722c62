import { once } from "node:events";
import { createServer } from "node:http";
import { closedPort, freePort, httpCall, testClock, toHeaders, until } from "../src";

describe("testClock", () => {
  it("stands still until advanced, then moves by exactly that much, never back", () => {
    const clock = testClock(1_000);
    expect(clock.now()).toBe(1_000);
    clock.advance(250);
    expect(clock.now()).toBe(1_250);
    expect(() => clock.advance(-1)).toThrow(/does not go back/);
    expect(clock.now()).toBe(1_250);
  });
});

describe("until", () => {
  it("returns the first accepted value, or the last one when time runs out", async () => {
    let n = 0;
    expect(
      await until(
        async () => ++n,
        (v) => v === 3,
        1_000,
        1,
      ),
    ).toBe(3);
    expect(
      await until(
        async () => "never",
        (v) => v === "ok",
        30,
        5,
      ),
    ).toBe("never");
  });
});

describe("httpCall", () => {
  it("sends JSON with its content type, parses JSON answers, keeps other text, and reads empty bodies as null", async () => {
    const seen: { type?: string; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        seen.push({ type: req.headers["content-type"], body });
        res.setHeader("set-cookie", ["a=1", "b=2"]);
        if (req.url === "/json") res.end(JSON.stringify({ ok: true }));
        else if (req.url === "/text") res.end("plain");
        else res.end();
      });
    });
    server.listen(await freePort(), "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as { port: number };
    const base = `http://127.0.0.1:${port}`;
    try {
      const json = await httpCall(base, "POST", "/json", { body: { a: 1 } });
      const text = await httpCall(base, "POST", "/text", { raw: "{bad", headers: { "content-type": "text/plain" } });
      const empty = await httpCall(base, "GET", "/empty");
      expect([json.status, json.body, text.body, empty.body]).toEqual([200, { ok: true }, "plain", null]);
      expect(seen).toEqual([
        { type: "application/json", body: '{"a":1}' },
        { type: "text/plain", body: "{bad" },
        { type: undefined, body: "" },
      ]);
      expect(toHeaders(json.headers).getSetCookie()).toEqual(["a=1", "b=2"]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("sends a path as written, or resolved as fetch would with asFetch", async () => {
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url!);
      res.end();
    });
    server.listen(await freePort(), "127.0.0.1");
    await once(server, "listening");
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      await httpCall(base, "GET", "/a/../b");
      await httpCall(base, "GET", "/a/../b", { asFetch: true });
      expect(paths).toEqual(["/a/../b", "/b"]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("throws when nobody answers", async () => {
    await expect(httpCall(`http://127.0.0.1:${await closedPort()}`, "GET", "/")).rejects.toThrow();
  });
});
