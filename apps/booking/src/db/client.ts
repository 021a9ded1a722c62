import { PrismaPg } from "@prisma/adapter-pg";
import { type Prisma, PrismaClient } from "../generated/prisma/client";

export type Db = PrismaClient;
/** The client inside `db.$transaction(async (tx) => ...)`. */
export type Tx = Prisma.TransactionClient;

export interface DbOptions {
  poolSize?: number;
}

/**
 * Prisma on the `pg` driver adapter (no engine binary). The pool fails a connection attempt
 * after 3 s instead of waiting forever, so a Postgres outage becomes a quick 503.
 */
export function createDb(databaseUrl: string, options: DbOptions = {}): Db {
  const adapter = new PrismaPg(
    { connectionString: databaseUrl, max: options.poolSize ?? 10, connectionTimeoutMillis: 3_000 },
    { onPoolError: () => {}, onConnectionError: () => {} },
  );
  return new PrismaClient({ adapter });
}

/** Postgres integer columns come back as number, bigint columns as bigint; amounts fit 2^53. */
export const toNumber = (v: bigint | number): number => (typeof v === "bigint" ? Number(v) : v);
