import { until } from "@concert/test-support";
import { call, sleep, type Tally } from "./client";
import { journey, type Journey, type JourneyOptions } from "./flows";
import type { System } from "./harness";

/** Issues tokens for these users through `gw` and polls until each is admitted; returns the tokens. */
export async function admitUsers(gw: string, userIds: number[], timeoutMs = 30_000): Promise<Map<number, string>> {
  const tokens = new Map<number, string>();
  const deadline = Date.now() + timeoutMs;
  await Promise.all(
    userIds.map(async (userId) => {
      const r = await call(gw, "POST", "/api/users/token", { body: { userId } });
      if (r.status !== 200) throw new Error(`token for ${userId}: ${r.status} ${JSON.stringify(r.body)}`);
      const token = r.body.result.token as string;
      let status = r.body.result.status as string;
      while (status !== "IN_PROGRESS") {
        if (Date.now() > deadline) throw new Error(`user ${userId} not admitted in time`);
        await sleep(150);
        const p = await call(gw, "GET", `/api/users/${userId}/token`, { token });
        if (p.status !== 200) throw new Error(`poll for ${userId}: ${p.status} ${JSON.stringify(p.body)}`);
        status = p.body.result.status;
      }
      tokens.set(userId, token);
    }),
  );
  return tokens;
}

/**
 * Payment burst: users run their journeys up to the payment, wait there until all are ready, then
 * pay spread over `spreadMs`; `inject` runs `injectAtMs` after the burst starts (the fault).
 */
export async function paymentBurst(
  sys: System,
  users: number[],
  o: Omit<JourneyOptions, "beforePay" | "gateways"> & { spreadMs: number; injectAtMs: number; inject: () => Promise<void> },
): Promise<{ journeys: Journey[]; burstStartedAt: number; injected: Promise<void> }> {
  let ready = 0;
  let ended = 0;
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const runs = users.map((userId) =>
    journey(userId, {
      ...o,
      gateways: () => sys.gateways.filter((g) => g.alive && g.name.startsWith("gateway-")).map((g) => g.url),
      holdAttempts: o.holdAttempts ?? 10,
      beforePay: async () => {
        ready++;
        await gate;
        await sleep(Math.random() * o.spreadMs);
      },
    }).finally(() => ended++),
  );
  const deadline = Date.now() + 60_000;
  while (ready + ended < users.length && Date.now() < deadline) await sleep(50);
  const burstStartedAt = Date.now();
  open();
  const injected = sleep(o.injectAtMs).then(o.inject);
  const journeys = await Promise.all(runs);
  await injected;
  return { journeys, burstStartedAt, injected };
}

/** Counts journeys by outcome and refusal code. */
export function outcomes(journeys: Journey[]): {
  paid: number;
  refused: number;
  gaveUp: number;
  codes: Record<string, number>;
  text: string;
} {
  const codes: Record<string, number> = {};
  let paid = 0;
  let refused = 0;
  let gaveUp = 0;
  for (const j of journeys) {
    if (j.outcome === "paid") paid++;
    else if (j.outcome === "refused") {
      refused++;
      codes[j.code ?? "?"] = (codes[j.code ?? "?"] ?? 0) + 1;
    } else gaveUp++;
  }
  return { paid, refused, gaveUp, codes, text: `paid ${paid}, refused ${refused} ${JSON.stringify(codes)}, gave up ${gaveUp}` };
}

/** Every 5xx must be a 503 SERVICE_UNAVAILABLE envelope with Retry-After. */
export function bad5xx(tally: Tally): unknown[] {
  return tally.fiveXX.filter((r) => !(r.status === 503 && r.body?.error?.code === "SERVICE_UNAVAILABLE" && r.retryAfter));
}

/** Polls `probe` until it is true; returns the ms it took, or -1 on timeout. */
export async function timeUntil(probe: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<number> {
  const started = Date.now();
  const ok = await until(() => probe().catch(() => false), Boolean, timeoutMs, everyMs);
  return ok ? Date.now() - started : -1;
}

/** The body of a journey's payment, to send it again. */
export const paymentBody = (j: Journey) => ({ userId: j.userId, reservationId: j.reservationId });
