import type { RequestHandler } from "express";
import { Metrics } from "@concert/shared";
import type { BookingRouteName } from "./api/routes";
import type { SweepResult } from "./reservations/sweeper";

/**
 * Booking's Prometheus metrics: HTTP and dependency errors (shared), plus holds created, refused
 * (by code) and expired, and payments by outcome. Outcomes are read off the answered request
 * (status and error code), so the use cases stay free of metrics code.
 */
export interface BookingMetrics {
  metrics: Metrics;
  /** middleware: counts hold and payment outcomes when the answer is sent */
  outcomes: RequestHandler;
  onSweep: (result: SweepResult) => void;
}

export function bookingMetrics(): BookingMetrics {
  const metrics = new Metrics("booking");
  const holdsCreated = metrics.counter("holds_created_total", "Seat holds created");
  const holdsRefused = metrics.counter("holds_refused_total", "Seat holds refused, by error code", ["code"]);
  const holdsExpired = metrics.counter("holds_expired_total", "Holds the sweeper marked EXPIRED on this instance");
  const payments = metrics.counter("payments_total", "Payment requests by outcome (PAID or the error code)", ["outcome"]);

  const outcomes: RequestHandler = (_req, res, next) => {
    res.once("finish", () => {
      // the route's name, set by the router (api/routes.ts) once it matched
      const route = res.locals.routeName as BookingRouteName | undefined;
      const code = String(res.locals.errorCode ?? "");
      if (route === "holdSeat") {
        if (res.statusCode === 201) holdsCreated.inc();
        else holdsRefused.inc({ code: code || String(res.statusCode) });
      } else if (route === "pay") {
        payments.inc({ outcome: res.statusCode < 300 ? "PAID" : code || String(res.statusCode) });
      }
    });
    next();
  };

  return {
    metrics,
    outcomes,
    onSweep: (result: SweepResult): void => {
      holdsExpired.inc(result.expired);
    },
  };
}
