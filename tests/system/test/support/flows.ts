import { call, retryAfterMs, sleep, type Reply, type Tally } from "./client";

/** What one simulated user saw, for the scenario's assertions. */
export interface Journey {
  userId: number;
  outcome: "paid" | "refused" | "gave-up";
  /** the 4xx code that ended it, when refused */
  code?: string;
  status?: number;
  token?: string;
  initialRank?: number;
  lastWaitingAt?: number;
  admittedAt?: number;
  reservationId?: number;
  seatId?: number;
  detailId?: number;
  paymentId?: number;
  price?: number;
  /** times the user had to queue again because its token was lost (401) */
  requeues: number;
  /** 503 / no-answer retries */
  retries: number;
  /** replies of the payment attempts (status list) */
  payStatuses: number[];
  error?: string;
}

export interface JourneyOptions {
  /** gateways to use; a user sticks to gateways[userId % n] and moves on when it stops answering */
  gateways: () => string[];
  concertId: number;
  detailIds: number[];
  tally: Tally;
  holdAttempts?: number;
  pollMs?: number;
  deadlineMs?: number;
  /** when set, wait for this before paying (lets a scenario inject a fault mid-burst) */
  beforePay?: () => Promise<void>;
  price?: number;
  /** called once, when the user first got a token */
  onQueued?: () => void;
  /** queue in the concert's own room (the issue names `concertId`) instead of the general room */
  room?: true;
}

const retriable = (r: Reply) => r.status === 0 || r.status === 503 || r.status === 502;

/**
 * One user's whole way through: token → wait in the queue → dates → free seats → hold one →
 * charge points → pay (Idempotency-Key, retried on 503 / no answer). A lost token (401) queues
 * again. Ends paid, refused with a 4xx, or gives up at the deadline.
 */
export async function journey(userId: number, o: JourneyOptions): Promise<Journey> {
  const j: Journey = { userId, outcome: "gave-up", requeues: 0, retries: 0, payStatuses: [] };
  const deadline = Date.now() + (o.deadlineMs ?? 90_000);
  let gwIndex = userId;
  const gw = () => {
    const list = o.gateways();
    return list[gwIndex % list.length];
  };
  const pollMs = o.pollMs ?? 500;

  /** a request retried on 503 / no answer (moving to the next gateway on no answer) */
  const req = async (method: string, path: string, extra: { body?: unknown; token?: string; headers?: Record<string, string> } = {}) => {
    for (;;) {
      const r = await call(gw(), method, path, { ...extra, tally: o.tally });
      if (!retriable(r) || Date.now() > deadline) return r;
      j.retries++;
      if (r.status === 0) gwIndex++;
      await sleep(r.status === 0 ? 100 : retryAfterMs(r));
    }
  };

  const end = (r: Reply): Journey => {
    if (r.status >= 400 && r.status < 500) {
      j.outcome = "refused";
      j.code = r.body?.error?.code;
      j.status = r.status;
    } else {
      j.outcome = "gave-up";
      j.status = r.status;
      j.error = JSON.stringify(r.body)?.slice(0, 200) ?? r.error;
    }
    return j;
  };

  /** token, then poll until admitted; false if the deadline passed */
  const admit = async (): Promise<Reply | true> => {
    for (;;) {
      const issuedAt = Date.now();
      // presenting the token it last had: a place it still holds comes back, a finished one is replaced
      const body = o.room ? { userId, concertId: o.concertId } : { userId };
      const issued = await req("POST", "/api/users/token", { body, token: j.token });
      if (issued.status !== 200) return issued;
      j.token = issued.body.result.token;
      if (j.initialRank === undefined && j.requeues === 0) {
        j.initialRank = issued.body.result.rank ?? 0;
        o.onQueued?.();
      }
      if (issued.body.result.status === "IN_PROGRESS") {
        j.admittedAt ??= Date.now();
        return true;
      }
      j.lastWaitingAt = issuedAt;
      for (;;) {
        await sleep(pollMs / 2 + Math.random() * pollMs);
        const sentAt = Date.now();
        const polled = await req("GET", `/api/users/${userId}/token`, { token: j.token });
        if (polled.status === 401) break; // lost (e.g. Redis lost its data): queue again
        if (polled.status !== 200) return polled;
        const st = polled.body.result.status;
        if (st === "IN_PROGRESS") {
          j.admittedAt ??= Date.now();
          return true;
        }
        if (st === "FINISHED") break;
        j.lastWaitingAt = sentAt; // the server saw it waiting after this moment
        if (Date.now() > deadline) return polled;
      }
      j.requeues++;
    }
  };

  /** a protected call; re-admits once per lost token */
  const protectedReq = async (method: string, path: string, extra: { body?: unknown; headers?: Record<string, string> } = {}) => {
    for (let lost = 0; ; lost++) {
      const r = await req(method, path, { ...extra, token: j.token });
      if (r.status !== 401 || r.body?.error?.code !== "TOKEN_INVALID" || lost >= 3) return r;
      j.requeues++;
      const a = await admit();
      if (a !== true) return a;
    }
  };

  const a = await admit();
  if (a !== true) return end(a);

  const dates = await protectedReq("GET", `/api/concert/${o.concertId}/date`);
  if (dates.status !== 200) return end(dates);
  const detailId = o.detailIds[userId % o.detailIds.length];
  j.detailId = detailId;

  let hold: Reply | null = null;
  for (let attempt = 0; attempt < (o.holdAttempts ?? 3); attempt++) {
    const seats = await protectedReq("GET", `/api/concert/${detailId}/seat`);
    if (seats.status !== 200) return end(seats);
    const free: number[] = Array.isArray(seats.body.result) ? seats.body.result : (seats.body.result?.seats ?? []);
    const seatId = free.length ? free[Math.floor(Math.random() * free.length)] : 1 + Math.floor(Math.random() * 50);
    hold = await protectedReq("POST", "/api/reservations", { body: { concertDetailId: detailId, userId, seatId } });
    if (hold.status === 201) break;
    if (hold.status !== 409 || hold.body?.error?.code !== "SEAT_UNAVAILABLE") return end(hold);
  }
  if (!hold || hold.status !== 201) return end(hold!);
  j.reservationId = hold.body.result.reservationId;
  j.seatId = hold.body.result.seatId;
  j.price = hold.body.result.price;

  const charged = await req("PATCH", "/api/users/point", { body: { userId, point: j.price } });
  if (charged.status !== 200) return end(charged);

  if (o.beforePay) await o.beforePay();
  const key = `pay-${userId}-${j.reservationId}`;
  for (;;) {
    const paid = await protectedReq("POST", "/api/payment", {
      body: { userId, reservationId: j.reservationId },
      headers: { "idempotency-key": key },
    });
    j.payStatuses.push(paid.status);
    if (paid.status === 200) {
      j.outcome = "paid";
      j.paymentId = paid.body.result.paymentId;
      return j;
    }
    return end(paid);
  }
}

/** Runs `fn` over items with at most `limit` running at once. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}
