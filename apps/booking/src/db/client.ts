import { PrismaPg } from "@prisma/adapter-pg";
import { Pool } from "pg";
import { type Prisma, PrismaClient } from "../generated/prisma/client";
import { postgresFailure } from "./postgres-errors";
import { Sql } from "./sql";

/** The Prisma client, and `sql`: plain pg on the same pool for the hottest statements (db/sql.ts). */
export type Db = PrismaClient & { readonly sql: Sql };
/** The client inside `db.$transaction(async (tx) => ...)`. */
export type Tx = Prisma.TransactionClient;

export interface DbOptions {
  poolSize?: number;
}

/**
 * Prisma on the `pg` driver adapter (no engine binary), over one pool that `db.sql` uses too. The
 * pool fails a connection attempt after 3 s instead of waiting forever, so a Postgres outage
 * becomes a quick 503.
 *
 * Every failure leaves this client already classified (see postgresFailure): the query extension
 * covers model operations, raw queries and the queries inside interactive transactions; an
 * interactive transaction that cannot start or commit fails in `$transaction` itself, so that is
 * wrapped too. The extension changes no method's shape, hence the cast back to PrismaClient.
 */
export function createDb(databaseUrl: string, options: DbOptions = {}): Db {
  const pool = new Pool({ connectionString: databaseUrl, max: options.poolSize ?? 10, connectionTimeoutMillis: 3_000 });
  pool.on("error", () => {}); // an idle connection lost: the next query reconnects (and is classified)
  const adapter = new PrismaPg(pool, { onPoolError: () => {}, onConnectionError: () => {}, disposeExternalPool: true });
  const client = new PrismaClient({ adapter }).$extends({
    name: "postgres-failures",
    query: {
      async $allOperations({ args, query }) {
        try {
          return (await query(args)) as unknown;
        } catch (err) {
          throw postgresFailure(err);
        }
      },
    },
  });
  const transaction = client.$transaction.bind(client) as (...args: unknown[]) => Promise<unknown>;
  client.$transaction = ((...args: unknown[]) =>
    transaction(...args).catch((err: unknown) => {
      throw postgresFailure(err);
    })) as typeof client.$transaction;
  return Object.assign(client, { sql: new Sql(pool) }) as unknown as Db;
}

/** Postgres integer columns come back as number, bigint columns as bigint (Prisma) or string (plain pg); amounts fit 2^53. */
export const toNumber = (v: bigint | number | string): number => (typeof v === "number" ? v : Number(v));
