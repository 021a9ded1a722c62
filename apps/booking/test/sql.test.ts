import { Client } from "pg";
import { createDb, type Db } from "../src/db/client";
import { transactionBefore } from "../src/db/deadline";
import { PaymentsRepository } from "../src/db/payments.repository";
import { UniqueViolation } from "../src/db/postgres-errors";
import { ReservationsRepository } from "../src/db/reservations.repository";
import { sqlLiteral } from "../src/db/sql-literal";
import { Prisma } from "../src/generated/prisma/client";
import { paymentRequest } from "../src/payments/decide-payment";
import { newConcert, nextId, reserveIdBlock, testDatabaseUrl, until } from "./support/booking";

reserveIdBlock();

// db/sql.ts: a transaction's statements in fewer round trips (BEGIN with the first, several in
// one message, COMMIT with the last), each statement prepared once per connection, and
// sql-literal.ts, which lets a message carry their values.
describe("Sql transactions and inlined values", () => {
  let db: Db;
  /** one connection: what it has prepared is what the next transaction finds */
  let one: Db;
  beforeAll(() => {
    db = createDb(testDatabaseUrl(), { poolSize: 3 });
    one = createDb(testDatabaseUrl(), { poolSize: 1 });
  });
  afterAll(async () => {
    await Promise.all([db.$disconnect(), one.$disconnect()]);
  });
  const exists = async (id: number) => (await db.sql.query(Prisma.sql`SELECT id FROM users WHERE id = ${id}`)).length === 1;

  /** Round trips to Postgres (client.query calls of every pool connection) made by `work`. */
  async function roundTrips(work: () => Promise<unknown>): Promise<number> {
    const spy = jest.spyOn(Client.prototype, "query");
    try {
      await work();
      return spy.mock.calls.length;
    } finally {
      spy.mockRestore();
    }
  }

  const hostile = `it's -- a \\ "quote", $1; DROP TABLE users; --`;
  const values = Prisma.sql`
    SELECT ${7}::int AS i, ${-5}::int AS neg, 1 - ${-5} AS minus_negative, ${9_007_199_254_740_993n}::bigint AS big, ${1.25}::numeric AS frac,
           ${hostile}::text AS s, ${"tab\there"}::text AS t, ${new Date("2026-12-02T15:00:00.123Z")}::timestamptz AS d,
           ${null}::text AS z, ${true}::boolean AS yes, ${[3, 1, 2]}::int[] AS ints, ${[] as number[]}::int[] AS none,
           ${[hostile, "a,b", "}", null]}::text[] AS strs, ${{ a: 1, quote: hostile }}::jsonb AS j,
           ${"5"} = '5' AS untyped`;

  it("an inlined value means what the same value means as a parameter, a hostile string included", async () => {
    const asParameters = await db.sql.query(values);
    const inlined = await transactionBefore(db, undefined, (query) => query.many(Prisma.sql`SELECT 1`, values));
    expect(inlined[1]).toEqual(asParameters);
    expect(asParameters[0]).toMatchObject({ s: hostile, minus_negative: 6, strs: [hostile, "a,b", "}", null], untyped: true });
    expect(await db.sql.query(Prisma.sql`SELECT count(*)::int AS n FROM users`)).toEqual([{ n: expect.any(Number) }]);
  });

  it("refuses a value it cannot write as a literal instead of guessing", () => {
    expect(() => sqlLiteral(Number.NaN)).toThrow(TypeError);
    expect(() => sqlLiteral(Buffer.from("x"))).toThrow(TypeError);
    expect(() => sqlLiteral(new Date(Number.NaN))).toThrow(TypeError);
  });

  it("BEGIN goes with the first statement and COMMIT with the last: a transaction of k messages costs k + 1 round trips, or k", async () => {
    const twoInserts = (a: number, b: number) =>
      transactionBefore(one, Date.now() + 5_000, async (query) => {
        await query(Prisma.sql`INSERT INTO users (id) VALUES (${a})`);
        await query(Prisma.sql`INSERT INTO users (id) VALUES (${b}) ON CONFLICT DO NOTHING`);
      });
    const withCommit = (c: number) =>
      transactionBefore(one, Date.now() + 5_000, async (query) => {
        await query(Prisma.sql`SELECT 1`);
        await query.commitWith(Prisma.sql`INSERT INTO users (id) VALUES (${c}) ON CONFLICT DO NOTHING`);
      });
    // the first time on the connection too: the PREPAREs go in the statements' message
    const [a, b, c] = [nextId(), nextId(), nextId()];
    expect(await roundTrips(() => twoInserts(a, b))).toBe(3); // BEGIN + a, b, COMMIT
    expect(await roundTrips(() => withCommit(c))).toBe(2); // BEGIN + SELECT, the insert + COMMIT
    const [d, e, f] = [nextId(), nextId(), nextId()];
    expect(await roundTrips(() => twoInserts(d, e))).toBe(3);
    expect(await roundTrips(() => withCommit(f))).toBe(2);
    expect(await Promise.all([a, b, c, d, e, f].map(exists))).toEqual(Array(6).fill(true));
  });

  it("each statement is prepared once per connection; a message of PREPAREs that fails discards the connection", async () => {
    const marker = nextId();
    const statement = () => Prisma.sql`SELECT ${marker}::int AS marked_${Prisma.raw(String(marker))}`;
    const run = () => transactionBefore(one, undefined, (query) => query.many(statement(), Prisma.sql`SELECT 2`));
    const preparedCount = async () =>
      (await one.sql.query<{ n: number }>(Prisma.sql`SELECT count(*)::int AS n FROM pg_prepared_statements`))[0].n;
    const before = await preparedCount();
    expect(await roundTrips(run)).toBe(2); // BEGIN + the PREPAREs + both, COMMIT
    const count = await preparedCount();
    expect(count).toBe(before + 2);
    expect(await roundTrips(run)).toBe(2);
    expect(await roundTrips(run)).toBe(2);
    expect(await preparedCount()).toBe(count);
    // a new statement and one that cannot be prepared: the first PREPARE runs, the second fails the message
    const fresh = () => Prisma.sql`SELECT ${marker}::int AS fresh_${Prisma.raw(String(marker))}`;
    const broken = transactionBefore(one, undefined, (query) => query.many(fresh(), Prisma.sql`SELECT 1 FROM no_such_table`));
    await expect(broken).rejects.toThrow(/no_such_table/);
    // on a connection that kept the first PREPARE, preparing it again would fail ("already exists")
    const [[row]] = await transactionBefore(one, undefined, (query) =>
      query.many<[Record<string, number>[]]>(fresh(), Prisma.sql`SELECT 3`),
    );
    expect(row).toEqual({ [`fresh_${marker}`]: marker });
  });

  it("several statements in one message each get a snapshot of their own: a later one sees what committed while an earlier one waited", async () => {
    const [locked, late] = [nextId(), nextId()];
    await db.sql.query(Prisma.sql`INSERT INTO users (id) VALUES (${locked})`);
    const other = await db.sql.pool.connect();
    try {
      await other.query("BEGIN");
      await other.query("SELECT id FROM users WHERE id = $1 FOR UPDATE", [locked]);
      const both = transactionBefore(db, undefined, (query) =>
        query.many<[{ id: number }[], { n: number }[]]>(
          Prisma.sql`SELECT id FROM users WHERE id = ${locked} FOR NO KEY UPDATE`,
          Prisma.sql`SELECT count(*)::int AS n FROM users WHERE id = ${late}`,
        ),
      );
      // the first statement is waiting for the row lock: the other transaction adds a row and commits
      const waiting = Prisma.sql`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE ${`%${locked}%`}`;
      expect(
        await until(
          () => db.sql.query(waiting),
          (rows) => rows.length > 0,
        ),
      ).toHaveLength(1);
      await other.query("INSERT INTO users (id) VALUES ($1)", [late]);
      await other.query("COMMIT");
      const [, [counted]] = await both;
      expect(counted.n).toBe(1);
    } finally {
      other.release(true); // discarded, not pooled: it may still be inside its transaction
    }
  });

  it("a message whose statement fails commits nothing of the transaction, and is classified", async () => {
    const [a, taken] = [nextId(), nextId()];
    await db.sql.query(Prisma.sql`INSERT INTO users (id) VALUES (${taken})`);
    const failing = transactionBefore(db, Date.now() + 5_000, async (query) => {
      await query(Prisma.sql`INSERT INTO users (id) VALUES (${a})`);
      await query.commitWith(Prisma.sql`INSERT INTO users (id) VALUES (${taken})`);
    });
    await expect(failing).rejects.toBeInstanceOf(UniqueViolation);
    expect(await exists(a)).toBe(false);
    const inMany = transactionBefore(db, undefined, (query) =>
      query.many(Prisma.sql`INSERT INTO users (id) VALUES (${a})`, Prisma.sql`INSERT INTO users (id) VALUES (${taken})`),
    );
    await expect(inMany).rejects.toBeInstanceOf(UniqueViolation);
    expect(await exists(a)).toBe(false);
  });

  it("nothing may follow commitWith", async () => {
    const id = nextId();
    const after = transactionBefore(db, undefined, async (query) => {
      await query.commitWith(Prisma.sql`INSERT INTO users (id) VALUES (${id})`);
      await query(Prisma.sql`SELECT 1`);
    });
    await expect(after).rejects.toThrow("commitWith must be its last statement");
  });

  it("a hold costs 1 Postgres round trip and its payment 2; a refused hold 2 and nothing stays", async () => {
    const { detailIds } = await newConcert(one, { performances: 1 });
    const [detail] = detailIds;
    const reservations = new ReservationsRepository(one);
    const payments = new PaymentsRepository(one);
    const hold = (user: number, seatNo: number) =>
      reservations.holdSeats({
        userId: user,
        concertDetailId: detail,
        seatNos: [seatNo],
        ttlMs: 300_000,
        maxHolds: 4,
        deadline: Date.now() + 5_000,
      });
    const pay = async (user: number, reservationId: number) => {
      await one.sql.query(Prisma.sql`UPDATE users SET point = 50000 WHERE id = ${user}`);
      return payments.pay(paymentRequest({ userId: user, reservationIds: [reservationId] }), Date.now() + 5_000);
    };
    // once, so that the connection has prepared the statements
    const first = nextId();
    await pay(first, (await hold(first, 1))![0].reservationId);

    const [userId, rival] = [nextId(), nextId()];
    const got: { held?: Awaited<ReturnType<typeof hold>>; refused?: Awaited<ReturnType<typeof hold>> } = {};
    expect(
      await roundTrips(async () => {
        got.held = await hold(userId, 7);
      }),
    ).toBe(1);
    expect(got.held).toHaveLength(1);
    expect(
      await roundTrips(async () => {
        got.refused = await hold(rival, 7);
      }),
    ).toBe(2);
    expect(got.refused).toBeNull();
    expect(await one.sql.query(Prisma.sql`SELECT id FROM reservation WHERE user_id = ${rival}`)).toEqual([]);

    const reservationId = got.held![0].reservationId;
    await one.sql.query(Prisma.sql`UPDATE users SET point = 50000 WHERE id = ${userId}`);
    let paid: Awaited<ReturnType<PaymentsRepository["pay"]>> | undefined;
    expect(
      await roundTrips(async () => {
        paid = await payments.pay(paymentRequest({ userId, reservationIds: [reservationId] }), Date.now() + 5_000);
      }),
    ).toBe(2);
    expect(paid).toMatchObject({ status: "PAID", amount: 50_000, balance: 0 });
    expect(await one.sql.query(Prisma.sql`SELECT status::text FROM reservation WHERE id = ${reservationId}`)).toEqual([
      { status: "CONFIRMED" },
    ]);
  });

  it("a hold's reservations are found by the seat rows its own UPDATE wrote: whatever plan Postgres caches, it reads no reservation but the user's", async () => {
    // A fresh connection, so that the hold's message carries its PREPAREs.
    const fresh = createDb(testDatabaseUrl(), { poolSize: 1 });
    const spy = jest.spyOn(Client.prototype, "query");
    let messages: string[];
    try {
      const { detailIds } = await newConcert(fresh, { performances: 1 });
      const held = await new ReservationsRepository(fresh).holdSeats({
        userId: nextId(),
        concertDetailId: detailIds[0],
        seatNos: [3, 4],
        ttlMs: 300_000,
        maxHolds: 4,
        deadline: Date.now() + 5_000,
      });
      expect(held).toHaveLength(2);
      messages = spy.mock.calls.map((call) => call[0]).filter((text): text is string => typeof text === "string");
    } finally {
      spy.mockRestore();
      await fresh.$disconnect();
    }
    // the message's statements (db/sql.ts joins them with "\n;\n"): the insert's PREPARE and its EXECUTE
    const parts = messages.find((text) => text.includes("INSERT INTO reservation"))!.split("\n;\n");
    const [, name, text] = /^PREPARE (p[0-9a-f]+) AS ([\s\S]*)$/.exec(parts.find((part) => part.includes("INSERT INTO reservation"))!)!;
    const execute = parts.find((part) => part.startsWith(`EXECUTE ${name}(`))!;
    // The generic plan a connection caches after a few executions, made here at once: it is
    // made from the table statistics of the moment, which a busy on-sale outgrows (a plan made
    // while the reservations were few scanned them all, per hold).
    const client = new Client({ connectionString: testDatabaseUrl() });
    await client.connect();
    try {
      await client.query("SET plan_cache_mode = force_generic_plan");
      await client.query(`PREPARE ${name} AS ${text}`);
      const { rows } = await client.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) ${execute}`);
      const scans: PlanNode[] = [];
      const walk = (node: PlanNode) => {
        if (node["Relation Name"] === "reservation" && node["Node Type"] !== "ModifyTable") scans.push(node);
        node.Plans?.forEach(walk);
      };
      walk(rows[0]["QUERY PLAN"][0].Plan);
      // the live holds' count: the user's reservations, by an index on user_id; nothing else
      expect(scans.length).toBeGreaterThan(0);
      for (const scan of scans) expect(scan["Index Cond"] ?? scan["Node Type"]).toMatch(/user_id = /);
    } finally {
      await client.end();
    }
  });
});

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Cond"?: string;
  Plans?: PlanNode[];
}
