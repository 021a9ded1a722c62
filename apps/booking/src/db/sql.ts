import type { Pool, PoolClient, QueryResultRow } from "pg";
import { postgresFailure } from "./postgres-errors";

/** One statement's rows (plain `pg`: bigint columns come back as strings, so cast them in the SQL). */
export type Query = <R extends QueryResultRow>(text: string, values?: readonly unknown[]) => Promise<R[]>;

/** The settings of a transaction run by {@link Sql.transaction}. */
export interface SqlTransactionOptions {
  /** SET LOCAL statement_timeout and lock_timeout, ms (the time left before the caller's deadline) */
  timeoutMs: number;
}

/**
 * Plain `pg` on the very pool Prisma's driver adapter uses (db/client.ts), for the hottest
 * statements: a query through the Prisma client costs several times its round trip in CPU (see
 * docs/BENCHMARKS.md, issue 16). Prisma keeps the schema, the migrations and every other query.
 * Failures are classified as the Prisma client's are (postgresFailure): Postgres down is
 * DependencyError("postgres"), a broken unique index UniqueViolation.
 */
export class Sql {
  constructor(readonly pool: Pool) {}

  readonly query: Query = async <R extends QueryResultRow>(text: string, values?: readonly unknown[]) => {
    try {
      return (await this.pool.query<R>(text, values as unknown[])).rows;
    } catch (err) {
      throw postgresFailure(err);
    }
  };

  /**
   * Runs `work` in one READ COMMITTED transaction on one connection: BEGIN and its timeouts go in
   * one round trip, COMMIT in another; whatever `work` throws rolls it back and is rethrown
   * (classified). A connection that failed is discarded, not returned to the pool.
   */
  async transaction<T>(options: SqlTransactionOptions, work: (query: Query) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw postgresFailure(err);
    }
    const query: Query = async <R extends QueryResultRow>(text: string, values?: readonly unknown[]) =>
      (await client.query<R>(text, values as unknown[])).rows;
    let broken: Error | undefined;
    try {
      const ms = Math.max(1, Math.floor(options.timeoutMs));
      // a simple-protocol multi-statement: one round trip (SET LOCAL takes no parameters)
      await client.query(`BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL statement_timeout = ${ms}; SET LOCAL lock_timeout = ${ms}`);
      const result = await work(query);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch((rollbackFailed: Error) => {
        broken = rollbackFailed;
      });
      throw postgresFailure(err);
    } finally {
      client.release(broken);
    }
  }
}
