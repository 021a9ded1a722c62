// deploy/prometheus/alerts.yml and the Grafana dashboard name only metrics the apps really serve:
// every metric in their expressions must be on a running gateway's or booking's /metrics.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { freePort, sleep } from "@concert/test-support";
import { startGateway, uniqueName, type RunningGateway } from "./helpers";

const ROOT = join(__dirname, "..", "..", "..");
/** series Prometheus makes itself (not on any /metrics) */
const SYNTHETIC = new Set(["up"]);
const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "inf",
  "nan",
]);

/** The metric names a PromQL expression reads (label matchers, ranges, grouping and functions left out). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, " ")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  return [...bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)]
    .filter((m) => m[2] === undefined && !KEYWORDS.has(m[1].toLowerCase()))
    .map((m) => m[1]);
}

/** Every name a /metrics text declares, with a histogram's (and summary's) _bucket, _sum and _count series. */
function servedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]);
    if (m[2] === "histogram" || m[2] === "summary") for (const s of ["_bucket", "_sum", "_count"]) names.add(m[1] + s);
  }
  return names;
}

function expressions(): { where: string; expr: string }[] {
  const alerts = parse(readFileSync(join(ROOT, "deploy/prometheus/alerts.yml"), "utf8")) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  const dashboard = JSON.parse(readFileSync(join(ROOT, "deploy/grafana/dashboards/concert-onsale.json"), "utf8")) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  return [
    ...alerts.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }))),
    ...dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: `panel ${p.title}`, expr: t.expr }))),
  ];
}

describe("alerts and dashboard", () => {
  let gateway: RunningGateway;
  let booking: ChildProcess;
  let bookingUrl = "";
  beforeAll(async () => {
    const queueName = uniqueName("mon");
    gateway = await startGateway({ ADMIN_TOKEN: "admin-token-0123456789", QUEUE_NAME: queueName });
    const main = join(ROOT, "apps/booking/dist/main.js");
    if (!existsSync(main)) throw new Error(`${main} is missing: run pnpm build first`);
    const port = await freePort();
    bookingUrl = `http://127.0.0.1:${port}`;
    // booking as it runs (its metrics only need it started: the sweeper is put off past the test)
    booking = spawn(process.execPath, [main], {
      env: {
        PATH: process.env.PATH ?? "",
        NODE_ENV: "test",
        LOG_LEVEL: "warn",
        PORT: String(port),
        HOST: "127.0.0.1",
        QUEUE_NAME: queueName,
        SWEEP_INTERVAL_MS: "3600000",
      },
      stdio: "ignore",
    });
    for (let i = 0; ; i++) {
      if ((await fetch(`${bookingUrl}/health`).catch(() => null))?.ok) break;
      if (i > 200 || booking.exitCode !== null) throw new Error("booking did not start");
      await sleep(50);
    }
  }, 30_000);
  afterAll(async () => {
    booking?.kill("SIGTERM");
    await gateway?.close();
  });

  it("reads the names out of PromQL (and would catch a wrong one)", () => {
    expect(metricNames('sum by (le) (rate(a_bucket{app="x", s=~"5.."}[5m])) / on() max(b) > 0.5 and c_total')).toEqual([
      "a_bucket",
      "b",
      "c_total",
    ]);
  });

  it("names only metrics that the gateway's or booking's /metrics serve", async () => {
    const served = new Set([
      ...servedNames(await (await fetch(`${gateway.url}/metrics`)).text()),
      ...servedNames(await (await fetch(`${bookingUrl}/metrics`)).text()),
    ]);
    const exprs = expressions();
    const named = exprs.flatMap(({ where, expr }) => metricNames(expr).map((name) => ({ where, name })));
    expect(new Set(named.map((n) => n.name)).size).toBeGreaterThan(15);
    expect(named.filter((n) => !served.has(n.name) && !SYNTHETIC.has(n.name))).toEqual([]);
    // the alerts the issue asks for are there
    const alerts = exprs.filter((e) => e.where.startsWith("alert ")).map((e) => e.where.slice(6));
    expect(alerts).toEqual(
      expect.arrayContaining([
        "AdmissionStalled",
        "BookingErrorRateHigh",
        "BookingLatencyHigh",
        "RedisNotReady",
        "PostgresNotReady",
        "SseStreamsNearFdLimit",
      ]),
    );
  });

  it("reports dependency_up from a check at scrape time, and queue_paused / queue_max_active as operators set them", async () => {
    const sample = (text: string, name: string, label = "") =>
      Number(new RegExp(`^${name}\\{[^}]*${label}[^}]*\\} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
    const gw = () => fetch(`${gateway.url}/metrics`).then((r) => r.text());
    const bk = await (await fetch(`${bookingUrl}/metrics`)).text();
    expect([sample(bk, "dependency_up", 'dependency="postgres"'), sample(bk, "dependency_up", 'dependency="redis"')]).toEqual([1, 1]);
    const before = await gw();
    expect([
      sample(before, "dependency_up", 'dependency="redis"'),
      sample(before, "queue_paused"),
      sample(before, "queue_max_active"),
    ]).toEqual([1, 0, 1000]);
    const auth = { authorization: "Bearer admin-token-0123456789", "content-type": "application/json" };
    await fetch(`${gateway.url}/admin/queue/pause`, { method: "POST", headers: auth });
    await fetch(`${gateway.url}/admin/queue/settings`, { method: "PATCH", headers: auth, body: JSON.stringify({ maxActive: 40 }) });
    await gateway.gateway.ticker.runOnce(); // the ticker reads the settings in force
    const after = await gw();
    expect([sample(after, "queue_paused"), sample(after, "queue_max_active")]).toEqual([1, 40]);
  });
});
