import { DependencyError } from "@concert/shared";
import { createDb } from "../src/db/client";
import { UniqueViolation, postgresFailure } from "../src/db/postgres-errors";
import { nextId, reserveIdBlock, testDatabaseUrl } from "./support/booking";

reserveIdBlock();

const adapterError = (cause: Record<string, unknown>, code = "P2010") =>
  Object.assign(new Error("Raw query failed"), { name: "PrismaClientKnownRequestError", code, meta: { driverAdapterError: { cause } } });

describe("postgresFailure: what a Prisma/pg failure means", () => {
  it.each([
    ["Prisma cannot reach the server (P1001)", Object.assign(new Error("Can't reach database server"), { code: "P1001" })],
    ["a raw query on a dropped connection", adapterError({ kind: "ConnectionClosed" })],
    ["the server is shutting down (57P01)", adapterError({ kind: "postgres", originalCode: "57P01" })],
    ["a connection exception (08006)", adapterError({ kind: "postgres", originalCode: "08006" })],
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
    const mentions = new Error("unique constraint somewhere in the text");
    const dependency = new DependencyError("redis");
    for (const err of [wrong, mentions, dependency]) expect(postgresFailure(err)).toBe(err);
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
});
