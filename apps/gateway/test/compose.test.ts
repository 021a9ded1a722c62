import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { gatewayEnv } from "../src/config";
import { bookingEnv } from "../../booking/src/config";

// There is no Docker engine here, so this checks what can be checked without one: that
// docker-compose.yml gives each app exactly the variables its config schema reads, with values
// the schema accepts, and that the commands, files and service names it refers to exist.
const ROOT = join(__dirname, "..", "..", "..");
const compose = parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8"), { merge: true });
const services: Record<string, any> = compose.services;

/** Compose's ${VAR:?msg} / ${VAR:-default} with sample values for the required secrets, else the default. */
function substitute(env: Record<string, string>): Record<string, string> {
  const sample: Record<string, string> = { PASSPORT_SECRET: "x".repeat(32), ADMIN_TOKEN: "y".repeat(20), METRICS_TOKEN: "z".repeat(32) };
  const valueOf = (name: string, op = "") => sample[name] ?? (op.startsWith(":-") ? op.slice(2) : "");
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => [
      k,
      String(v).replace(/\$\{(\w+)(:[?-][^}]*)?\}/g, (_, name: string, op?: string) => valueOf(name, op)),
    ]),
  );
}

const schemaKeys = (schema: { shape: Record<string, unknown> }) => Object.keys(schema.shape).sort();

describe("docker-compose.yml", () => {
  const apps = [
    { prefix: "gateway-", schema: gatewayEnv, app: "gateway" },
    { prefix: "booking-", schema: bookingEnv, app: "booking" },
  ];

  it("runs postgres, a Redis primary, its replica, three sentinels, a migrate job, two gateways, two bookings, nginx, prometheus and grafana", () => {
    expect(Object.keys(services).sort()).toEqual([
      "booking-1",
      "booking-2",
      "gateway-1",
      "gateway-2",
      "grafana",
      "migrate",
      "nginx",
      "postgres",
      "prometheus",
      "redis-primary",
      "redis-replica",
      "sentinel-1",
      "sentinel-2",
      "sentinel-3",
    ]);
  });

  /** A redis-server command's `--name value` pairs. */
  const serverArgs = (command: string[]) =>
    Object.fromEntries(
      command.flatMap((arg, i) =>
        arg.startsWith("--")
          ? [
              [
                arg.slice(2),
                command
                  .slice(i + 1)
                  .join(" ")
                  .split(" --")[0],
              ],
            ]
          : [],
      ),
    );
  const sentinelNames = ["sentinel-1", "sentinel-2", "sentinel-3"];

  it("keeps Redis's data: AOF fsynced every second on the primary and its one replica, each on a volume", () => {
    const [primary, replica] = [serverArgs(services["redis-primary"].command), serverArgs(services["redis-replica"].command)];
    for (const args of [primary, replica]) expect([args.appendonly, args.appendfsync]).toEqual(["yes", "everysec"]);
    expect([primary.replicaof, replica.replicaof]).toEqual([undefined, "redis-primary 6379"]);
    for (const name of ["redis-primary", "redis-replica"]) {
      const [volume, path] = services[name].volumes[0].split(":");
      expect([name, volume in compose.volumes, path]).toEqual([name, true, "/data"]);
    }
  });

  it("has three sentinels watching the primary with a quorum of two, and every app reaches Redis (and Redlock) through them", () => {
    for (const name of sentinelNames) {
      const script = services[name].command.join(" ");
      expect(script).toContain("sentinel monitor concert redis-primary 6379 2");
      expect(script).toMatch(/exec redis-server \/data\/sentinel\.conf --sentinel$/);
      expect(services[name].volumes[0]).toBe(`${name}-data:/data`);
    }
    const url = `redis+sentinel://${sentinelNames.map((n) => `${n}:26379`).join(",")}/concert`;
    for (const [name, service] of Object.entries(services).filter(([n]) => /^(gateway|booking)-/.test(n))) {
      expect([name, service.environment.REDIS_URL]).toEqual([name, url]);
      if (name.startsWith("booking-")) expect([name, service.environment.REDLOCK_URLS]).toEqual([name, url]);
      else expect([name, service.environment.REDIS_MIN_REPLICAS_ACK]).toEqual([name, "1"]);
      for (const sentinel of sentinelNames) expect([name, service.depends_on[sentinel]]).toEqual([name, { condition: "service_healthy" }]);
    }
  });

  it.each(apps)("gives every $app instance exactly the variables its config schema reads, with valid values", ({ prefix, schema }) => {
    const instances = Object.entries(services).filter(([name]) => name.startsWith(prefix));
    expect(instances).toHaveLength(2);
    for (const [, service] of instances) {
      const env = substitute(service.environment);
      expect(Object.keys(env).sort()).toEqual(schemaKeys(schema));
      const parsed = schema.safeParse({ ...env, ADMIN_TOKEN: env.ADMIN_TOKEN || undefined });
      expect(parsed.error?.issues ?? []).toEqual([]);
    }
  });

  it("points the gateways at both bookings and nginx at both gateways", () => {
    expect(services["gateway-1"].environment.BOOKING_URL.split(",")).toEqual(["http://booking-1:3001", "http://booking-2:3001"]);
    const nginx = readFileSync(join(ROOT, services.nginx.volumes[0].split(":")[0].replace("./", "")), "utf8");
    expect(nginx).toContain("server gateway-1:3000");
    expect(nginx).toContain("server gateway-2:3000");
  });

  it("keeps /metrics off the load balancer: its own port on every app, not published, not proxied by nginx", () => {
    const nginx = readFileSync(join(ROOT, services.nginx.volumes[0].split(":")[0].replace("./", "")), "utf8");
    for (const [name, service] of Object.entries(services).filter(([n]) => /^(gateway|booking)-/.test(n))) {
      const env = service.environment;
      expect([name, env.METRICS_PORT !== undefined, env.METRICS_PORT !== env.PORT, env.METRICS_TOKEN]).toEqual([
        name,
        true,
        true,
        expect.stringMatching(/^\$\{METRICS_TOKEN:\?/),
      ]);
      expect([name, service.ports]).toEqual([name, undefined]);
      expect(nginx).not.toContain(`:${env.METRICS_PORT}`);
    }
    expect(nginx).toMatch(/location = \/metrics \{\s*return 404;/);
  });

  it("has a health check on every long-running service and depends only on services that exist", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const dep of Object.keys(service.depends_on ?? {})) expect([name, dep, dep in services]).toEqual([name, dep, true]);
      if (name === "migrate") continue;
      const hasCheck =
        Boolean(service.healthcheck) ||
        (service.build && readFileSync(join(ROOT, service.build.dockerfile), "utf8").includes("HEALTHCHECK"));
      expect([name, hasCheck]).toEqual([name, true]);
    }
  });

  it("runs commands that exist in this repository", () => {
    const migrate = services.migrate.command.join(" ");
    expect(migrate).toContain("scripts/migrate.mjs");
    expect(existsSync(join(ROOT, "scripts/migrate.mjs"))).toBe(true);
    expect(migrate).toContain("apps/booking/dist/db/seed-main.js");
    expect(existsSync(join(ROOT, "apps/booking/src/db/seed-main.ts"))).toBe(true);
  });

  it.each(["gateway", "booking"])("builds %s with a multi-stage, non-root Dockerfile that keeps only production dependencies", (app) => {
    const dockerfile = readFileSync(join(ROOT, "apps", app, "Dockerfile"), "utf8");
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/deploy --prod/);
    expect(dockerfile).toMatch(/CMD \["node", "dist\/main.js"\]/);
    expect(existsSync(join(ROOT, "apps", app, "src", "main.ts"))).toBe(true);
  });

  it("wires Prometheus to every app instance's metrics port with the token and the alerts, and Grafana to Prometheus and the dashboard", () => {
    const mounted = (service: any, target: string) => {
      const v = (service.volumes as string[]).find((x) => x.split(":")[1] === target);
      expect([target, v]).toEqual([target, expect.any(String)]);
      const file = join(ROOT, v!.split(":")[0].replace("./", ""));
      expect([file, existsSync(file)]).toEqual([file, true]);
      return file;
    };
    const prom = services.prometheus;
    const config = parse(readFileSync(mounted(prom, "/etc/prometheus/prometheus.yml"), "utf8"));
    mounted(prom, "/etc/prometheus/alerts.yml");
    expect(config.rule_files).toEqual(["/etc/prometheus/alerts.yml"]);
    expect(prom.configs).toEqual([{ source: "metrics-token", target: "/etc/prometheus/metrics-token" }]);
    expect(compose.configs["metrics-token"].content).toBe("${METRICS_TOKEN}");
    const targets = config.scrape_configs.flatMap((job: any) => {
      expect(job.authorization).toEqual({ credentials_file: "/etc/prometheus/metrics-token" });
      return job.static_configs.flatMap((c: any) => c.targets as string[]);
    });
    const apps = Object.entries(services).filter(([n]) => /^(gateway|booking)-/.test(n));
    expect(targets.sort()).toEqual(apps.map(([n, s]) => `${n}:${s.environment.METRICS_PORT}`).sort());

    const grafana = services.grafana;
    const provisioning = mounted(grafana, "/etc/grafana/provisioning");
    const datasource = parse(readFileSync(join(provisioning, "datasources", "prometheus.yml"), "utf8"));
    expect(datasource.datasources[0]).toMatchObject({ type: "prometheus", url: "http://prometheus:9090", uid: "prometheus" });
    const dashboards = parse(readFileSync(join(provisioning, "dashboards", "dashboards.yml"), "utf8"));
    const folder = mounted(grafana, dashboards.providers[0].options.path);
    expect(existsSync(join(folder, "concert-onsale.json"))).toBe(true);
  });
});
