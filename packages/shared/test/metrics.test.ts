import { once } from "node:events";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import pino from "pino";
import { METRICS_PATH, Metrics } from "../src/metrics";

async function listen(metrics: Metrics, token?: string): Promise<{ url: string; server: Server }> {
  const server = metrics.app(pino({ level: "silent" }), token).listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("the metrics listener (METRICS_PORT)", () => {
  it("serves /metrics behind the bearer token and nothing else", async () => {
    const metrics = new Metrics("t");
    const token = "t".repeat(16);
    const { url, server } = await listen(metrics, token);
    try {
      const refused = await fetch(url + METRICS_PATH);
      expect([refused.status, ((await refused.json()) as { error: { code: string } }).error.code]).toEqual([401, "UNAUTHORIZED"]);
      const wrong = await fetch(url + METRICS_PATH, { headers: { authorization: "Bearer " + "u".repeat(16) } });
      expect(wrong.status).toBe(403);
      const served = await fetch(url + METRICS_PATH, { headers: { authorization: `Bearer ${token}` } });
      expect([served.status, (await served.text()).includes('dependency_errors_total{app="t"')]).toEqual([200, false]);
      expect((await fetch(`${url}/api/users/token`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
    } finally {
      server.close();
    }
  });

  it("without a token it is open (development)", async () => {
    const { url, server } = await listen(new Metrics("t"));
    try {
      const r = await fetch(url + METRICS_PATH);
      expect([r.status, (await r.text()).includes("# HELP http_request_duration_seconds")]).toEqual([200, true]);
    } finally {
      server.close();
    }
  });
});
