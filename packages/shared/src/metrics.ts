import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { RequestHandler } from "express";

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

  /** GET /metrics in the Prometheus text format. */
  handler(): RequestHandler {
    return async (_req, res) => {
      res.setHeader("content-type", this.registry.contentType);
      res.end(await this.registry.metrics());
    };
  }
}
