import { Metrics, type QueueStore, type TickResult } from "@concert/shared";
import type { StreamCap } from "./queue/queue-streams";

/** The gateway's Prometheus metrics: HTTP and dependency errors (shared), plus the queue's. */
export function gatewayMetrics(
  store: QueueStore,
  openStreams: () => number = () => 0,
  /** the admission settings in force (the ticker's, read at scrape time) */
  admission: () => { maxActive: number; paused: boolean } | undefined = () => undefined,
) {
  const metrics = new Metrics("gateway");
  metrics.gauge("queue_paused", "1 while operators have paused admission", [], async function () {
    this.set((await store.getOverrides()).paused ? 1 : 0);
  });
  metrics.gauge("queue_max_active", "The max-active setting in force (admission stops at it)", [], function () {
    const a = admission();
    if (a) this.set(a.maxActive);
  });
  metrics.gauge("queue_waiting", "Tokens waiting in the queue", [], async function () {
    this.set((await store.counts()).waiting);
  });
  metrics.gauge("queue_active", "Admitted tokens currently active", [], async function () {
    this.set((await store.counts()).active);
  });
  metrics.gauge("queue_sse_streams", "Open GET /api/queue/stream connections on this instance", [], function () {
    this.set(openStreams());
  });
  const streamsRefused = metrics.counter("queue_sse_refused_total", "GET /api/queue/stream refused by a stream cap", ["cap"]);
  const holdsRefusedAtEdge = metrics.counter(
    "holds_refused_at_gateway_total",
    "Holds of already-claimed seats refused before reaching booking",
  );
  const admitted = metrics.counter("queue_admitted_total", "Tokens admitted by ticks this instance ran");
  const expired = metrics.counter("queue_tokens_expired_total", "Active tokens expired by ticks this instance ran");
  const evicted = metrics.counter("queue_tokens_evicted_total", "Idle waiting tokens dropped by ticks this instance ran");
  const lost = metrics.counter(
    "queue_tokens_lost_total",
    "Polls and requests with a token issued to that user that Redis does not know (a place lost to a failover or data loss, or a token finished longer ago than the retention); answered 401",
  );
  const perTick = metrics.histogram("queue_admitted_per_tick", "Tokens admitted per tick", [], [0, 1, 10, 50, 100, 500, 1000, 5000]);
  const tickDuration = metrics.histogram(
    "queue_tick_duration_seconds",
    "Duration of ticks that ran on this instance",
    [],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25],
  );
  return {
    metrics,
    onHoldRefused: () => holdsRefusedAtEdge.inc(),
    onStreamRefused: (cap: StreamCap) => streamsRefused.inc({ cap }),
    onLostToken: () => lost.inc(),
    onTick: (result: TickResult, ms: number): void => {
      admitted.inc(result.admitted);
      expired.inc(result.expired);
      evicted.inc(result.evicted);
      perTick.observe(result.admitted);
      tickDuration.observe(ms / 1000);
    },
  };
}
