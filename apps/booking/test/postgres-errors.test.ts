import { DependencyError } from "@concert/shared";
import { createDb } from "../src/db/client";
import { Prisma } from "../src/generated/prisma/client";
import { UniqueViolation, postgresFailure } from "../src/db/postgres-errors";
import { Client } from "pg";
import { holdAsNewUser, newConcert, nextId, reserveIdBlock, startBooking, testDatabaseUrl, until, type Booking } from "./support/booking";
import { adminUrl, callMigrateScript } from "./support/migrate";

reserveIdBlock();

const adapterError = (cause: Record<string, unknown>, code = "P2010") =>
  Object.assign(new Error("Raw query failed"), { name: "PrismaClientKnownRequestError", code, meta: { driverAdapterError: { cause } } });

describe("postgresFailure: what a Prisma/pg failure means", () => {
  it.each([
    ["Prisma cannot reach the server (P1001)", Object.assign(new Error("Can't reach database server"), { code: "P1001" })],
    ["a raw query on a dropped connection", adapterError({ kind: "ConnectionClosed" })],
    ["the server is shutting down (57P01)", adapterError({ kind: "postgres", originalCode: "57P01" })],
    ["a connection exception (08006)", adapterError({ kind: "postgres", originalCode: "08006" })],
    [
      "a database not accepting connections (55000, FATAL, as the adapter reports it)",
      adapterError({
        kind: "postgres",
        originalCode: "55000",
        severity: "FATAL",
        message: 'database "d" is not currently accepting connections',
      }),
    ],
    ["the server starting up (57P03 cannot connect now)", adapterError({ kind: "postgres", originalCode: "57P03", severity: "FATAL" })],
    ["too many connections (53300)", adapterError({ kind: "postgres", originalCode: "53300", severity: "FATAL" })],
    ["out of memory (53200) in an ordinary error report", adapterError({ kind: "postgres", originalCode: "53200", severity: "ERROR" })],
    ["a session-ending report whatever its code", adapterError({ kind: "postgres", originalCode: "3D000", severity: "FATAL" })],
    ["the adapter's TooManyConnections kind", adapterError({ kind: "TooManyConnections" })],
    [
      "pg's own DatabaseError 55000 FATAL",
      Object.assign(new Error("not currently accepting connections"), { code: "55000", severity: "FATAL" }),
    ],
    ["pg's connection was terminated", new Error("Connection terminated unexpectedly")],
    ["pg's client is no longer queryable", new Error("Client has encountered a connection error and is not queryable")],
    ["pg-pool timed out waiting for a connection", new Error("timeout exceeded when trying to connect")],
    ["a socket error", Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" })],
  ])("%s → DependencyError(postgres) with the error as cause", (_name, err) => {
    const marked = postgresFailure(err);
    expect(marked).toBeInstanceOf(DependencyError);
    expect(marked).toMatchObject({ dependency: "postgres", status: 503, cause: err });
  });

  it.each([
    ["P2002", Object.assign(new Error("Unique constraint failed"), { code: "P2002" })],
    ["a raw insert's 23505", adapterError({ kind: "UniqueConstraintViolation", originalCode: "23505" })],
  ])("a unique violation (%s) → UniqueViolation", (_name, err) => {
    expect(postgresFailure(err)).toBeInstanceOf(UniqueViolation);
  });

  it("a wrong query, a message that merely mentions uniqueness, and our own errors stay as they are", () => {
    const wrong = adapterError({ kind: "postgres", originalCode: "22012" });
    // 55000 in an ERROR report is a query the database's state does not allow (e.g. currval too early)
    const notPrerequisite = adapterError({ kind: "postgres", originalCode: "55000", severity: "ERROR" });
    const pgQueryError = Object.assign(new Error("currval of sequence is not yet defined"), { code: "55000", severity: "ERROR" });
    const mentions = new Error("unique constraint somewhere in the text");
    const dependency = new DependencyError("redis");
    for (const err of [wrong, notPrerequisite, pgQueryError, mentions, dependency]) expect(postgresFailure(err)).toBe(err);
  });
});

describe("createDb marks failures where they arise", () => {
  it("with Postgres unreachable, model queries, raw queries and interactive transactions all throw DependencyError(postgres)", async () => {
    const down = createDb("postgresql://postgres@127.0.0.1:1/postgres", { poolSize: 1 });
    try {
      const attempts = [
        () => down.user.findUnique({ where: { id: 1 } }),
        () => down.$queryRaw`SELECT 1`,
        () => down.$executeRaw`SELECT 1`,
        () => down.$transaction(async (tx) => tx.$queryRaw`SELECT 1`),
        // plain pg on the same pool (db/sql.ts)
        () => down.sql.query(Prisma.sql`SELECT 1`),
        () => down.sql.transaction({ timeoutMs: 1000 }, (query) => query(Prisma.sql`SELECT 1`)),
      ];
      for (const attempt of attempts) await expect(attempt()).rejects.toMatchObject({ name: "DependencyError", dependency: "postgres" });
    } finally {
      await down.$disconnect();
    }
  });

  it("a unique violation inside a transaction comes out of $transaction as UniqueViolation", async () => {
    const db = createDb(testDatabaseUrl(), { poolSize: 1 });
    try {
      const id = nextId();
      const twice = db.$transaction(async (tx) => {
        await tx.$executeRaw`INSERT INTO users (id) VALUES (${id})`;
        await tx.$executeRaw`INSERT INTO users (id) VALUES (${id})`;
      });
      await expect(twice).rejects.toBeInstanceOf(UniqueViolation);
    } finally {
      await db.$disconnect();
    }
  });

  it("plain pg: a unique violation comes out as UniqueViolation, and the transaction rolled back all of it", async () => {
    const db = createDb(testDatabaseUrl(), { poolSize: 1 });
    try {
      const [id, other] = [nextId(), nextId()];
      const twice = db.sql.transaction({ timeoutMs: 5000 }, async (query) => {
        await query(Prisma.sql`INSERT INTO users (id) VALUES (${other})`);
        await query(Prisma.sql`INSERT INTO users (id) VALUES (${id})`);
        await query(Prisma.sql`INSERT INTO users (id) VALUES (${id})`);
      });
      await expect(twice).rejects.toBeInstanceOf(UniqueViolation);
      expect(await db.sql.query(Prisma.sql`SELECT id FROM users WHERE id = ANY(${[id, other]}::int[])`)).toEqual([]);
      // the one connection went back to the pool in a usable state
      expect(await db.sql.query<{ n: number }>(Prisma.sql`SELECT 1 AS n`)).toEqual([{ n: 1 }]);
    } finally {
      await db.$disconnect();
    }
  });

  it("plain pg: a statement past the transaction's timeout is cut (57014) and nothing of it commits", async () => {
    const db = createDb(testDatabaseUrl(), { poolSize: 1 });
    try {
      const id = nextId();
      const slow = db.sql.transaction({ timeoutMs: 50 }, async (query) => {
        await query(Prisma.sql`INSERT INTO users (id) VALUES (${id})`);
        await query(Prisma.sql`SELECT pg_sleep(1)`);
      });
      await expect(slow).rejects.toMatchObject({ code: "57014" });
      expect(await db.sql.query(Prisma.sql`SELECT id FROM users WHERE id = ${id}`)).toEqual([]);
    } finally {
      await db.$disconnect();
    }
  });

  it("plain pg: a transaction's connection cut between statements fails the transaction (503), not the process", async () => {
    const db = createDb(testDatabaseUrl(), { poolSize: 1 });
    const admin = new Client({ connectionString: testDatabaseUrl() });
    await admin.connect();
    try {
      const cut = db.sql.transaction({ timeoutMs: 5000 }, async (query) => {
        const [{ pid }] = await query<{ pid: number }>(Prisma.sql`SELECT pg_backend_pid() AS pid`);
        await admin.query("SELECT pg_terminate_backend($1)", [pid]);
        await until(
          async () => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid])).rowCount,
          (rows) => rows === 0,
        );
        await new Promise((r) => setTimeout(r, 50)); // the socket's reset reaches the idle client: its 'error' event
        await query(Prisma.sql`SELECT 1`);
      });
      await expect(cut).rejects.toMatchObject({ name: "DependencyError", dependency: "postgres" });
      // the broken connection was discarded: the pool's next transaction gets a new one
      expect(await db.sql.transaction({ timeoutMs: 1000 }, (query) => query<{ n: number }>(Prisma.sql`SELECT 3 AS n`))).toEqual([{ n: 3 }]);
    } finally {
      await admin.end();
      await db.$disconnect();
    }
  });

  it("plain pg: with every connection busy, a transaction that may wait only so long gives up with its own error", async () => {
    const db = createDb(testDatabaseUrl(), { poolSize: 1 });
    try {
      let release!: () => void;
      const busy = db.sql.transaction({ timeoutMs: 5000 }, () => new Promise<void>((r) => (release = r)));
      const late = db.sql.transaction(
        { timeoutMs: 5000, connectWithinMs: 30, onConnectTimeout: () => new Error("no connection in time") },
        (query) => query(Prisma.sql`SELECT 1`),
      );
      await expect(late).rejects.toThrow("no connection in time");
      release();
      await busy;
      // the connection it would have had came back to the pool: the next transaction gets it
      expect(await db.sql.transaction({ timeoutMs: 1000 }, (query) => query<{ n: number }>(Prisma.sql`SELECT 2 AS n`))).toEqual([{ n: 2 }]);
    } finally {
      await db.$disconnect();
    }
  });
});

describe("a database that stops accepting connections", () => {
  // Its own database: refusing connections to it must not touch the other test files' database.
  const name = `${process.env.BOOKING_TEST_DATABASE_NAME ?? "booking_test_local"}_refusing`;
  const url = Object.assign(new URL(testDatabaseUrl()), { pathname: `/${name}` }).toString();
  const admin = new Client({ connectionString: adminUrl(testDatabaseUrl()) });
  const allowConnections = (allow: boolean) => admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS ${allow}`);
  const dropSessions = () => admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [name]);

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    await callMigrateScript("applyMigrations", { url });
  }, 60_000);
  afterAll(async () => {
    await allowConnections(true);
    await dropSessions();
    await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
    await admin.end();
  });

  it("answers holds 503 with Retry-After (never 500) while it refuses them, commits none, and serves again once it accepts", async () => {
    // its own seat-gate keys too: this database numbers its performances from 1, like the shared one
    const inst: Booking = await startBooking({ databaseUrl: url, redisKeyPrefix: `booking:test:${name}` });
    try {
      const { detailIds } = await newConcert(inst.db);
      const hold = (seatId: number) => holdAsNewUser(inst, detailIds[0], seatId);
      const first = await hold(1);
      expect([first.status, first.body.error]).toEqual([201, null]);

      await allowConnections(false);
      await dropSessions(); // the pool's open connections go too, so every hold needs a new one
      const refused = await Promise.all(Array.from({ length: 20 }, (_, i) => hold(2 + i)));
      expect(refused.map((r) => [r.status, r.body.error?.code, r.headers.get("retry-after")])).toEqual(
        refused.map(() => [503, "SERVICE_UNAVAILABLE", "1"]),
      );

      await allowConnections(true);
      const back = await until(
        () => hold(30),
        (r) => r.status === 201,
      );
      expect(back.status).toBe(201);
      const seats = await inst.db.reservation.findMany({ where: { concertDetailId: detailIds[0] }, select: { seatNo: true } });
      expect(seats.map((r) => r.seatNo).sort((a, b) => a - b)).toEqual([1, 30]);
    } finally {
      await inst.close();
    }
  });
});
