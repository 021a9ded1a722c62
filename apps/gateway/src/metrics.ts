import { Metrics, type QueueStore, type TickResult } from "@concert/shared";
import type { StreamCap } from "./queue/queue-streams";

/** What the queue gauges read of one room: the general room's store, or a concert room's. */
export interface MeteredRoom {
  /** the `room` label: "general", or the concert's id */
  room: string;
  store: QueueStore;
  /** the settings in force (maxActive, paused, and a concert room's admitPerFreeSeat) */
  admission: () => { maxActive: number; paused: boolean; admitPerFreeSeat?: number } | undefined;
}

/**
 * The gateway's Prometheus metrics: HTTP and dependency errors (shared), plus the queue's. The
 * queue gauges have one series per room (`room`: "general" or a concert id), read from Redis at
 * scrape time, so an alert can tell which on-sale stalled.
 */
export function gatewayMetrics(
  store: QueueStore,
  openStreams: () => number = () => 0,
  /** the admission settings in force (the ticker's, read at scrape time) */
  admission: () => { maxActive: number; paused: boolean } | undefined = () => undefined,
  /** the concert rooms this instance serves (read at scrape time) */
  concertRooms: () => MeteredRoom[] = () => [],
) {
  const metrics = new Metrics("gateway");
  const rooms = (): MeteredRoom[] => [{ room: "general", store, admission }, ...concertRooms()];
  metrics.gauge("queue_paused", "1 while operators have paused the room's admission", ["room"], async function () {
    for (const r of rooms()) this.set({ room: r.room }, (await r.store.getOverrides()).paused ? 1 : 0);
  });
  metrics.gauge("queue_max_active", "The room's max-active setting in force", ["room"], function () {
    for (const r of rooms()) {
      const a = r.admission();
      if (a) this.set({ room: r.room }, a.maxActive);
    }
  });
  metrics.gauge(
    "queue_admission_cap",
    "How many active tokens the room's admission allows now: max active, and for a concert room at most admitPerFreeSeat × its free seats",
    ["room"],
    async function () {
      for (const r of rooms()) {
        const a = r.admission();
        if (!a) continue;
        const seats = a.admitPerFreeSeat === undefined ? null : await r.store.inventory();
        this.set({ room: r.room }, seats ? Math.min(a.maxActive, a.admitPerFreeSeat! * seats.free) : a.maxActive);
      }
    },
  );
  metrics.gauge("queue_waiting", "Tokens waiting in the room's queue (ranked; a pre-queue is not counted)", ["room"], async function () {
    for (const r of rooms()) this.set({ room: r.room }, (await r.store.counts()).waiting);
  });
  metrics.gauge("queue_active", "Admitted tokens of the room currently active", ["room"], async function () {
    for (const r of rooms()) this.set({ room: r.room }, (await r.store.counts()).active);
  });
  metrics.gauge("queue_sse_streams", "Open GET /api/queue/stream connections on this instance", [], function () {
    this.set(openStreams());
  });
  const streamsRefused = metrics.counter("queue_sse_refused_total", "GET /api/queue/stream refused by a stream cap", ["cap"]);
  const holdsRefusedAtEdge = metrics.counter(
    "holds_refused_at_gateway_total",
    "Holds of already-claimed seats refused before reaching booking",
  );
  const admitted = metrics.counter("queue_admitted_total", "Tokens admitted by ticks this instance ran, per room", ["room"]);
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
    /** a concert room's tick (the room loop's) */
    onRoomTick: (concertId: number, result: TickResult): void => {
      admitted.inc({ room: String(concertId) }, result.admitted);
    },
    onTick: (result: TickResult, ms: number): void => {
      admitted.inc({ room: "general" }, result.admitted);
      expired.inc(result.expired);
      evicted.inc(result.evicted);
      perTick.observe(result.admitted);
      tickDuration.observe(ms / 1000);
    },
  };
}
