// Scenario 8 (issue 16): what admitted users do, next to the rank poll, on the same gateway in
// the same run. One booking; gateway A as deployed (seat map and dates answered from booking's
// read model in Redis), gateway B with SEAT_MAP_READS=false (every seat map and dates request
// forwarded to booking and answered from Postgres: the path before issue 16), alternating round by
// round, autocannon 50 connections, medians. Then the forwarded writes: balance, charge, hold and
// payment, closed loop, CPU per request of gateway + booking (and Redis beside it).
import { cpuOf, httpClient, load, measure, medianOfRuns } from "../lib.mjs";

export const id = 8;
export const title = "Admitted users' routes (seat map, dates, balance, charge, hold, payment) next to the rank poll";

const CONCERT = 8;
const DATES = 10; // performances of the concert whose seat map and dates are read

export async function run(ctx) {
  let duration = ctx.quick ? 2 : 5;
  const rounds = ctx.quick ? 2 : 3;
  const connections = 50;
  const queueName = "s8";
  const redisPid = ctx.redisServer.pid;

  // the concert read: 10 dates of 50 seats, a few seats held and sold so the answers are not trivial
  await ctx.db.query(`INSERT INTO concert (id, name) VALUES ($1, 'Bench 8') ON CONFLICT DO NOTHING`, [CONCERT]);
  const { rows: dateRows } = await ctx.db.query(
    `INSERT INTO concert_detail (concert_id, starts_at, seat_price)
     SELECT $1, date_trunc('day', now()) + make_interval(days => 7 * g) + interval '19 hours', 50000 FROM generate_series(1, $2::int) g
     RETURNING id`,
    [CONCERT, DATES],
  );
  const readDates = dateRows.map((r) => r.id);
  await ctx.db.query(`INSERT INTO seat (concert_detail_id, seat_no) SELECT d, s FROM unnest($1::int[]) d, generate_series(1, 50) s`, [
    readDates,
  ]);
  // seats for the holds: 1,000 users × up to 4 holds
  const holdDates = await ctx.seed(ctx.quick ? 20 : 80);

  const users = 1000;
  const { store } = ctx.queueStore(queueName);
  const tokens = await Promise.all(Array.from({ length: users }, (_, i) => store.issue(8_000_001 + i).then((r) => r.token)));
  const t = await store.tick({ tickMs: 10, batch: users, maxActive: 1_000_000 });
  if (t.admitted !== users) throw new Error(`admitted ${t.admitted}, expected ${users}`);
  // one user stays waiting: the rank poll
  const waiting = await store.issue(8_999_999);

  const booking = await ctx.startBooking({ QUEUE_NAME: queueName, SEAT_HOLD_TTL_SEC: "600" });
  const gwModel = await ctx.startGateway({ QUEUE_NAME: queueName, BOOKING_URL: booking.url });
  const gwForward = await ctx.startGateway({ QUEUE_NAME: queueName, BOOKING_URL: booking.url, SEAT_MAP_READS: "false" });
  const reader = { user: 8_000_001, token: tokens[0] };
  const seatPath = `/api/concert/${readDates[2]}/seat`;
  const datePath = `/api/concert/${CONCERT}/date`;
  // builds the model (the first read reaches booking)
  await fetch(`${gwModel.url}${datePath}`, { headers: { token: reader.token } }).then((r) => r.arrayBuffer());

  const pidsOf = (gw) => [gw.pid, booking.pid, redisPid];
  // Redis commands run (INFO commandstats: script calls and the commands inside them), per request
  const redisCalls = async () =>
    [...(await ctx.redis.info("commandstats")).matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  const redisOps = {};
  const counted = async (name, run) => {
    const c0 = await redisCalls();
    const r = await run();
    redisOps[name] = ((await redisCalls()) - c0 - 1) / Math.max(1, r.total ?? r.n);
    return r;
  };
  const get = (gw, path, headers, name) => () =>
    counted(name, () => measure({ url: `${gw.url}${path}`, headers, connections, duration, pids: pidsOf(gw) }));
  const targets = {
    poll: get(gwModel, `/api/users/8999999/token`, { token: waiting.token }, "poll"),
    seats: get(gwModel, seatPath, { token: reader.token }, "seats"),
    seatsForwarded: get(gwForward, seatPath, { token: reader.token }, "seatsForwarded"),
    dates: get(gwModel, datePath, { token: reader.token }, "dates"),
    datesForwarded: get(gwForward, datePath, { token: reader.token }, "datesForwarded"),
    balance: get(gwModel, `/api/users/${reader.user}/point`, {}, "balance"),
  };
  const warm = duration;
  duration = 1;
  for (const fn of Object.values(targets)) await fn();
  duration = warm;
  const runs = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
  for (let round = 0; round < rounds; round++) for (const [name, fn] of Object.entries(targets)) runs[name].push(await fn());
  const s = medianOfRuns(runs);

  // forwarded writes: closed loop on keep-alive connections, gateway A
  const client = httpClient(gwModel.url, { maxSockets: connections });
  const timed = async (spec, name) => {
    const [g0, b0, r0] = [gwModel.pid, booking.pid, redisPid].map((pid) => cpuOf([pid]));
    const r = await counted(name, () => load({ client, concurrency: connections, pids: [gwModel.pid, booking.pid], ...spec }));
    const perReq = (pid, c0) => ((cpuOf([pid]) - c0) * 1e6) / Math.max(1, r.n);
    return { ...r, gwUs: perReq(gwModel.pid, g0), bookingUs: perReq(booking.pid, b0), redisUs: perReq(redisPid, r0) };
  };
  let nextUser = 8_100_000;
  const charge = await timed(
    {
      durationMs: ctx.quick ? 1_500 : 5_000,
      next: () => ({ method: "PATCH", path: "/api/users/point", body: { userId: nextUser++, point: 1000 } }),
    },
    "charge",
  );
  // every admitted user gets enough points for one seat, then holds seats of its own (distinct seats)
  await load({
    client,
    concurrency: connections,
    total: users,
    next: (i) => ({ method: "PATCH", path: "/api/users/point", body: { userId: 8_000_001 + i, point: 50_000 } }),
  });
  const seats = holdDates.flatMap((d) => Array.from({ length: 50 }, (_, k) => [d, k + 1]));
  const holdsPerUser = Math.min(4, Math.floor(seats.length / users));
  const made = [];
  const hold = await timed(
    {
      total: users * holdsPerUser,
      next: (i) => {
        const u = i % users;
        const [concertDetailId, seatId] = seats[i];
        return {
          method: "POST",
          path: "/api/reservations",
          headers: { token: tokens[u] },
          body: { concertDetailId, userId: 8_000_001 + u, seatId },
          u,
        };
      },
      check: (r, spec) => {
        if (r.status === 201 && made[spec.u] === undefined) made[spec.u] = r.json.result.reservationId;
        return r.status === 201;
      },
    },
    "hold",
  );
  const pay = await timed(
    {
      total: users,
      next: (u) => ({
        method: "POST",
        path: "/api/payment",
        headers: { token: tokens[u] },
        body: { userId: 8_000_001 + u, reservationId: made[u] },
      }),
    },
    "pay",
  );
  client.close();

  const poll = s.poll;
  const cpuSplit = (x) => {
    const [gw, bk, rd] = x.cpuUsPerPid;
    return `${gw.toFixed(0)} gw + ${bk.toFixed(0)} booking + ${rd.toFixed(0)} redis`;
  };
  const readRow = (name, label, target) => {
    const x = s[name];
    const vsPoll = x.rps / poll.rps;
    return {
      name: label,
      rps: x.rps,
      p50: x.p50,
      p99: x.p99,
      cpuUs: x.cpuUs,
      cpuDetail: cpuSplit(x),
      result: `${vsPoll.toFixed(3)}× the rank poll by req/s; ${redisOps[name].toFixed(1)} Redis commands per request${x.non2xx ? `, ${x.non2xx} non-2xx` : ""}`,
      target: target ? `≥ ${target}× the rank poll` : name === "poll" ? "baseline" : "",
      met: target ? vsPoll >= target && x.non2xx === 0 : null,
    };
  };
  const writeRow = (label, r, name, extra, target = 500) => ({
    name: label,
    rps: r.rps,
    p50: r.p50,
    p99: r.p99,
    cpuUs: r.cpuUsPerReq,
    cpuDetail: `${r.gwUs.toFixed(0)} gw + ${r.bookingUs.toFixed(0)} booking; redis ${r.redisUs.toFixed(0)} more`,
    result: `${r.n} requests, ${r.bad} not 2xx; ${redisOps[name].toFixed(1)} Redis commands per request${extra ? `; ${extra}` : ""} (statuses ${JSON.stringify(r.statuses)})`,
    target: target ? `≤ ${target} µs CPU (gw + booking)` : "",
    met: target ? r.cpuUsPerReq <= target && r.bad === 0 : null,
  });
  const { rows: paid } = await ctx.db.query(`SELECT count(*)::int AS n FROM payment WHERE user_id BETWEEN 8000001 AND $1`, [
    8_000_000 + users,
  ]);
  return {
    rows: [
      readRow("poll", "rank poll GET /api/users/{id}/token (gateway A)", null),
      readRow("seats", "seat map GET /api/concert/{id}/seat, read model (gateway A)", 0.5),
      readRow("seatsForwarded", "seat map, forwarded to booking (gateway B, SEAT_MAP_READS=false)", null),
      readRow("dates", `dates GET /api/concert/{id}/date (${DATES} dates), read model (gateway A)`, 0.5),
      readRow("datesForwarded", "dates, forwarded to booking (gateway B)", null),
      {
        ...readRow("balance", "balance GET /api/users/{id}/point (forwarded)", null),
        target: "≤ 500 µs CPU (gw + booking)",
        met: s.balance.cpuUsPerPid[0] + s.balance.cpuUsPerPid[1] <= 500 && s.balance.non2xx === 0,
      },
      writeRow("charge PATCH /api/users/point (forwarded)", charge, "charge"),
      writeRow("hold POST /api/reservations (distinct free seats)", hold, "hold"),
      writeRow("payment POST /api/payment (one hold each)", pay, "pay", `${paid[0].n} payments in Postgres`, null),
    ],
    notes: [
      `${rounds} alternating rounds × ${warm}s per read target, autocannon ${connections} connections, medians; per-round req/s: ` +
        Object.entries(s)
          .map(([k, v]) => `${k} ${v.rpsAll.join("/")}`)
          .join(", "),
      "Read rows' CPU µs/req = gateway + booking + redis-server. Writes: closed loop, 50 keep-alive connections through gateway A; CPU = gateway + booking (the issue's figure), Redis beside it.",
      `Seat map of one of ${DATES} dates with 50 seats; ${users} admitted users, each holding ${holdsPerUser} distinct seats (${users * holdsPerUser} holds), then paying one.`,
    ],
  };
}
