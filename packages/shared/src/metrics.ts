import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import express, { type Express, type RequestHandler } from "express";
import { errorHandler, notFoundHandler } from "./envelope";
import { requireBearer } from "./http";
import type { Dependency } from "./errors";
import type { Logger } from "./logger";

export const METRICS_PATH = "/metrics";

/**
 * One Prometheus registry per app: process metrics, HTTP latency by route and status, and
 * dependency errors; each app adds its domain metrics with `counter`, `gauge` and `histogram`.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  readonly dependencyErrors: Counter<"dependency">;

  constructor(app: string) {
    this.registry.setDefaultLabels({ app });
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = this.histogram(
      "http_request_duration_seconds",
      "HTTP request latency by route and status",
      ["method", "route", "status"],
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    );
    this.dependencyErrors = this.counter(
      "dependency_errors_total",
      "Requests that failed because Redis, Postgres or booking was unavailable",
      ["dependency"],
    );
  }

  counter<L extends string>(name: string, help: string, labelNames: L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string>(name: string, help: string, labelNames: L[] = [], collect?: (this: Gauge<L>) => Promise<void> | void): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry], collect });
  }

  histogram<L extends string>(name: string, help: string, labelNames: L[] = [], buckets?: number[]): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  /**
   * `dependency_up{dependency}`: 1 when the dependency answers its check at scrape time (within
   * 2 s), else 0 — what /ready answers, as a metric an alert can watch.
   */
  dependencyUp(checks: Partial<Record<Dependency, () => Promise<unknown>>>): void {
    const entries = Object.entries(checks) as [Dependency, () => Promise<unknown>][];
    this.gauge(
      "dependency_up",
      "1 when the dependency answered its check at scrape time (within 2 s), else 0",
      ["dependency"],
      async function () {
        await Promise.all(
          entries.map(async ([dependency, check]) => {
            const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), 2_000).unref());
            const up = await Promise.race([check(), timeout]).then(
              () => 1,
              () => 0,
            );
            this.set({ dependency }, up);
          }),
        );
      },
    );
  }

  /** GET /metrics in the Prometheus text format; behind `Authorization: Bearer <METRICS_TOKEN>` when a token is given. */
  handlers(token?: string): RequestHandler[] {
    const serve: RequestHandler = async (_req, res) => {
      res.setHeader("content-type", this.registry.contentType);
      res.end(await this.registry.metrics());
    };
    return token === undefined ? [serve] : [requireBearer(token, "METRICS_TOKEN", "Metrics"), serve];
  }

  /** An app serving /metrics alone, for its own listener (METRICS_PORT); every other path is 404. */
  app(logger: Logger, token?: string): Express {
    const app = express();
    app.disable("x-powered-by");
    app.get(METRICS_PATH, ...this.handlers(token));
    app.use(notFoundHandler);
    app.use(errorHandler(logger));
    return app;
  }
}
