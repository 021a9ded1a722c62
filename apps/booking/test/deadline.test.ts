import { createDb, type Db } from "../src/db/client";
import { transactionBefore } from "../src/db/deadline";
import type { TxQuery } from "../src/db/sql";
import { Prisma } from "../src/generated/prisma/client";
import { nextId, reserveIdBlock, testDatabaseUrl } from "./support/booking";

reserveIdBlock();

// transactionBefore on plain pg (db/sql.ts): work its caller has given up on never commits.
describe("transactionBefore", () => {
  let db: Db;
  beforeAll(() => {
    db = createDb(testDatabaseUrl(), { poolSize: 2 });
  });
  afterAll(async () => {
    await db.$disconnect();
  });
  const exists = async (id: number) => (await db.sql.query(Prisma.sql`SELECT id FROM users WHERE id = ${id}`)).length === 1;

  it("commits work done in time", async () => {
    const id = nextId();
    await transactionBefore(db, Date.now() + 5_000, (query) => query(Prisma.sql`INSERT INTO users (id) VALUES (${id})`));
    expect(await exists(id)).toBe(true);
  });

  // the COMMIT sent on its own after `work`, or with its last statement (commitWith)
  it.each<[string, (query: TxQuery) => Promise<unknown>]>([
    ["COMMIT on its own", async () => {}],
    ["commitWith", (query) => query.commitWith(Prisma.sql`SELECT 1`)],
  ])("does not commit once the deadline has passed, though every statement was quick (%s): 503, nothing written", async (_, finish) => {
    const id = nextId();
    let now = Date.now();
    const deadline = now + 1_000;
    const spy = jest.spyOn(Date, "now").mockImplementation(() => now);
    try {
      const late = transactionBefore(db, deadline, async (query) => {
        await query(Prisma.sql`INSERT INTO users (id) VALUES (${id})`);
        now = deadline; // the caller's clock runs out between the last statement and COMMIT
        await finish(query);
      });
      await expect(late).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE", retryAfterSec: 1 });
    } finally {
      spy.mockRestore();
    }
    expect(await exists(id)).toBe(false);
  });

  it("a statement cut by the time left is 503, and the transaction rolled back", async () => {
    const id = nextId();
    const slow = transactionBefore(db, Date.now() + 400, async (query) => {
      await query(Prisma.sql`INSERT INTO users (id) VALUES (${id})`);
      await query(Prisma.sql`SELECT pg_sleep(2)`);
    });
    await expect(slow).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    expect(await exists(id)).toBe(false);
  });

  it("without a deadline, runs as one transaction all the same", async () => {
    const [a, b] = [nextId(), nextId()];
    const failing = transactionBefore(db, undefined, async (query) => {
      await query(Prisma.sql`INSERT INTO users (id) VALUES (${a})`);
      await query(Prisma.sql`INSERT INTO users (id) VALUES (${b})`);
      throw new Error("changed my mind");
    });
    await expect(failing).rejects.toThrow("changed my mind");
    expect([await exists(a), await exists(b)]).toEqual([false, false]);
  });
});
