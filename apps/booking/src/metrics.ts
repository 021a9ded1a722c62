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
  /** counts one answered request's outcome (the hot dispatch calls it; `outcomes` for Express) */
  countOutcome: (route: BookingRouteName | undefined, status: number, errorCode: string) => void;
  onSweep: (result: SweepResult) => void;
}

export function bookingMetrics(): BookingMetrics {
  const metrics = new Metrics("booking");
  const holdsCreated = metrics.counter("holds_created_total", "Seat holds created");
  const holdsRefused = metrics.counter("holds_refused_total", "Seat holds refused, by error code", ["code"]);
  const holdsExpired = metrics.counter("holds_expired_total", "Holds the sweeper marked EXPIRED on this instance");
  const payments = metrics.counter("payments_total", "Payment requests by outcome (PAID or the error code)", ["outcome"]);

  const countOutcome = (route: BookingRouteName | undefined, status: number, code: string): void => {
    if (route === "holdSeat") {
      if (status === 201) holdsCreated.inc();
      else holdsRefused.inc({ code: code || String(status) });
    } else if (route === "pay") {
      payments.inc({ outcome: status < 300 ? "PAID" : code || String(status) });
    }
  };
  const outcomes: RequestHandler = (_req, res, next) => {
    res.once("finish", () => {
      // the route's name, set by the router (api/routes.ts) once it matched
      countOutcome(res.locals.routeName as BookingRouteName | undefined, res.statusCode, String(res.locals.errorCode ?? ""));
    });
    next();
  };

  return {
    metrics,
    outcomes,
    countOutcome,
    onSweep: (result: SweepResult): void => {
      holdsExpired.inc(result.expired);
    },
  };
}
