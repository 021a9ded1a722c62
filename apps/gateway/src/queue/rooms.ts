import {
  AppError,
  QueueStore,
  ROOM_DIRECTORY_REFRESH_MS,
  redisCall,
  registeredConcert,
  roomRegistryKey,
  type AdmissionSettings,
  type Logger,
  type QueueStoreOptions,
  DEFAULT_PREQUEUE_SEC,
  type OwnRoomSettings,
  type RegisteredConcert,
  type RoomSettings,
  type RoomView,
  type SaleSchedule,
} from "@concert/shared";
import type { Cluster, Redis } from "ioredis";
import type { QueueService } from "./queue-service";

/**
 * What this gateway knows of the concerts and their rooms: booking's registry in Redis (see
 * apps/booking/src/rooms/room-registry.ts), re-read at most every ROOM_DIRECTORY_REFRESH_MS, and
 * at once when a request names a concert it does not know yet.
 */
export class RoomDirectory {
  private concerts = new Map<number, RegisteredConcert>();
  private loadedAt = -Infinity;
  private loading: Promise<void> | null = null;
  readonly key: string;

  constructor(
    private readonly redis: Redis | Cluster,
    queueName: string,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.key = roomRegistryKey(queueName);
  }

  /** Re-reads the registry (one HGETALL); concurrent callers share one read. */
  async refresh(): Promise<void> {
    this.loading ??= redisCall(this.redis.hgetall(this.key))
      .then((raw) => {
        const next = new Map<number, RegisteredConcert>();
        for (const [id, json] of Object.entries(raw)) {
          try {
            const parsed = registeredConcert.safeParse(JSON.parse(json));
            if (parsed.success) next.set(Number(id), parsed.data);
            else this.logger.warn({ concertId: id }, "room registry entry does not parse; ignored");
          } catch {
            this.logger.warn({ concertId: id }, "room registry entry is not JSON; ignored");
          }
        }
        this.concerts = next;
        this.loadedAt = this.now();
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  /** Re-reads the registry if the copy is older than `maxAgeMs`. */
  async fresh(maxAgeMs = ROOM_DIRECTORY_REFRESH_MS): Promise<void> {
    if (this.now() - this.loadedAt >= maxAgeMs) await this.refresh();
  }

  get(concertId: number): RegisteredConcert | undefined {
    return this.concerts.get(concertId);
  }

  /** The concert as the registry has it now, re-reading it first when the concert is not (yet) known. */
  async lookup(concertId: number): Promise<RegisteredConcert | undefined> {
    // (a concert made a moment ago through another instance: always read again; concurrent reads
    // share one HGETALL, and the issue route's rate limits bound how often a client can ask)
    if (!this.concerts.has(concertId)) await this.refresh();
    return this.concerts.get(concertId);
  }

  /** The concerts that have a room of their own. */
  roomIds(): number[] {
    return [...this.concerts].flatMap(([id, c]) => (c.room ? [id] : []));
  }

  /** Whether any concert has a room of its own (else every token is the general room's and no request needs a room check). */
  get hasRooms(): boolean {
    for (const c of this.concerts.values()) if (c.room) return true;
    return false;
  }
}

/** One concert's own room on this instance: its store (its own keys), its queue service, its settings in force. */
export interface Room {
  concertId: number;
  name: string;
  /** the room's settings: its own where set, else the gateway's configured ones */
  settings: RoomSettings;
  /** its own settings as stored (with its scheduled sale, if any) */
  own: OwnRoomSettings;
  /** the scheduled sale (ms): pre-queue, opening (with its lottery), close; undefined: open now, never closing */
  schedule?: SaleSchedule & { lottery: boolean };
  /** this instance saw the opening's lottery drawn (it then stops trying) */
  drawn: boolean;
  store: QueueStore;
  service: QueueService;
  /** the admission settings in force, as the room's last tick reported them (operators' pause included) */
  effective: AdmissionSettings & { paused: boolean };
}

export interface RoomsOptions {
  /** the store options every room shares (QUEUE_NAME, idle TTL, retention, clock); each room sets its own active TTL */
  storeOptions: Omit<QueueStoreOptions, "concertId" | "activeTtlSec">;
  /** the gateway's configured settings, for whatever a room does not set */
  defaults: RoomSettings;
  /** builds a room's queue service over its store, reading the room's settings in force */
  service: (store: QueueStore, settings: () => AdmissionSettings, schedule: () => SaleSchedule | undefined) => QueueService;
}

/** The concert rooms this instance serves, built on first use from the directory and rebuilt when their settings change. */
export class Rooms {
  private readonly built = new Map<number, Room>();
  private readonly issuedListeners: ((concertId: number) => void)[] = [];

  constructor(
    private readonly redis: Redis | Cluster,
    readonly directory: RoomDirectory,
    private readonly options: RoomsOptions,
  ) {}

  /** The concert's own room, or null when the concert has none (or is not known). */
  room(concertId: number): Room | null {
    const concert = this.directory.get(concertId);
    if (!concert?.room) return null;
    const own = concert.room;
    const settings: RoomSettings = {
      batch: own.batch ?? this.options.defaults.batch,
      tickMs: own.tickMs ?? this.options.defaults.tickMs,
      maxActive: own.maxActive ?? this.options.defaults.maxActive,
      activeTtlSec: own.activeTtlSec ?? this.options.defaults.activeTtlSec,
      admitPerFreeSeat: own.admitPerFreeSeat ?? this.options.defaults.admitPerFreeSeat,
    };
    const schedule = scheduleOf(own);
    const existing = this.built.get(concertId);
    if (existing && existing.settings.activeTtlSec === settings.activeTtlSec) {
      if (existing.schedule?.opensAt !== schedule?.opensAt) existing.drawn = false;
      Object.assign(existing, { settings, own, schedule, name: concert.name });
      return existing;
    }
    const store = new QueueStore(this.redis, { ...this.options.storeOptions, concertId, activeTtlSec: settings.activeTtlSec });
    const room: Room = {
      concertId,
      name: concert.name,
      settings,
      own,
      schedule,
      drawn: existing?.drawn ?? false,
      store,
      service: undefined as unknown as QueueService,
      effective: existing?.effective ?? { batch: settings.batch, tickMs: settings.tickMs, maxActive: settings.maxActive, paused: false },
    };
    room.service = this.options.service(
      store,
      () => room.effective,
      () => room.schedule,
    );
    this.built.set(concertId, room);
    return room;
  }

  /** Every concert room the directory knows. */
  all(): Room[] {
    return this.directory.roomIds().flatMap((id) => this.room(id) ?? []);
  }

  /**
   * The queue service a new token for this concert is issued by: the concert's own room's, or
   * null (the general room) for a concert without one; 404 for a concert that does not exist.
   */
  async serviceForConcert(concertId: number): Promise<QueueService | null> {
    const concert = await this.directory.lookup(concertId);
    if (!concert) throw new AppError("NOT_FOUND", `Concert ${concertId} not found`, { concertId });
    return this.room(concertId)?.service ?? null;
  }

  /**
   * The room a room token is of (its concert id from the token), reading the registry again first
   * when this instance does not know that room yet (made a moment ago through another instance);
   * null when there is no such room.
   */
  async roomOfToken(concertId: number): Promise<Room | null> {
    if (!this.directory.get(concertId)?.room) await this.directory.refresh();
    return this.room(concertId);
  }

  /** The room service a room token is answered by; null when no such room exists. */
  async serviceForToken(concertId: number): Promise<QueueService | null> {
    return (await this.roomOfToken(concertId))?.service ?? null;
  }

  /** A new place was made in a room on this instance (its ticker wakes the room). */
  issued(concertId: number): void {
    for (const listener of this.issuedListeners) listener(concertId);
  }

  onIssued(listener: (concertId: number) => void): void {
    this.issuedListeners.push(listener);
  }
}

/** A room's scheduled sale in ms: a close alone (no saleOpensAt) opens at once and draws no lottery. */
export function scheduleOf(own: OwnRoomSettings): (SaleSchedule & { lottery: boolean }) | undefined {
  const closesAt = own.saleClosesAt ? Date.parse(own.saleClosesAt) : null;
  if (!own.saleOpensAt) return closesAt === null ? undefined : { opensAt: 0, prequeueFrom: 0, closesAt, lottery: false };
  const opensAt = Date.parse(own.saleOpensAt);
  return { opensAt, prequeueFrom: opensAt - (own.prequeueSec ?? DEFAULT_PREQUEUE_SEC) * 1000, closesAt, lottery: true };
}

/** A room as the page's list shows it (GET /rooms), at `now` (ms). */
export async function roomView(room: Room, now: number): Promise<RoomView> {
  const [prequeueCount, seats] = await Promise.all([room.store.prequeued(), room.store.inventory()]);
  const s = room.schedule;
  const iso = (ms: number | null | undefined) => (ms === null || ms === undefined || !s?.lottery ? null : new Date(ms).toISOString());
  const status: RoomView["status"] =
    s?.closesAt != null && now >= s.closesAt
      ? "CLOSED"
      : seats && seats.free === 0 && seats.held === 0
        ? "SOLD_OUT"
        : s?.lottery && now < s.prequeueFrom
          ? "SCHEDULED"
          : s?.lottery && now < s.opensAt
            ? "PREQUEUE"
            : "OPEN";
  return {
    concertId: room.concertId,
    name: room.name,
    status,
    opensAt: iso(s?.opensAt),
    prequeueOpensAt: iso(s?.prequeueFrom),
    closesAt: s?.closesAt != null ? new Date(s.closesAt).toISOString() : null,
    prequeueCount,
  };
}
