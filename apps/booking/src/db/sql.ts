import type { Pool, PoolClient, QueryResultRow } from "pg";
import type { Prisma } from "../generated/prisma/client";
import { postgresFailure } from "./postgres-errors";

/**
 * One statement's rows. The statement is a `Prisma.sql` template (its fragments, `Prisma.join` and
 * the seat-sql.ts rules compose as in `$queryRaw`), sent as its `$n` text and values. Plain `pg`
 * types: int4 is a number, int8 (bigint) a string, timestamptz a Date.
 */
export type Query = <R extends QueryResultRow = QueryResultRow>(statement: Prisma.Sql) => Promise<R[]>;

/** The settings of a transaction run by {@link Sql.transaction}. */
export interface SqlTransactionOptions {
  /** SET LOCAL statement_timeout and lock_timeout, ms: a number, or read once the connection is had */
  timeoutMs: number | (() => number);
  /** give up waiting for a pool connection after this long (ms): `onConnectTimeout()` is thrown */
  connectWithinMs?: number;
  onConnectTimeout?: () => Error;
  /** called just before COMMIT: whatever it throws rolls the transaction back instead */
  beforeCommit?: () => void;
}

/**
 * Plain `pg` on the very pool Prisma's driver adapter uses (db/client.ts), for the statements of
 * the busiest use cases (holds, payments, points): through the Prisma client a statement costs
 * about four times the CPU (see docs/BENCHMARKS.md, issue 16). Prisma keeps the schema, the
 * migrations and every other query. Failures are classified as the Prisma client's are
 * (postgresFailure): Postgres down is DependencyError("postgres"), a broken unique index
 * UniqueViolation; errors of our own pass through.
 */
export class Sql {
  constructor(readonly pool: Pool) {}

  readonly query: Query = async <R extends QueryResultRow>(statement: Prisma.Sql) => {
    try {
      return (await this.pool.query<R>(statement.text, statement.values)).rows;
    } catch (err) {
      throw postgresFailure(err);
    }
  };

  /**
   * Runs `work` in one READ COMMITTED transaction on one connection: BEGIN and its timeouts go in
   * one round trip, COMMIT in another; whatever `work` (or `beforeCommit`) throws rolls it back and
   * is rethrown, classified. A connection whose rollback failed is discarded, not reused.
   */
  async transaction<T>(options: SqlTransactionOptions, work: (query: Query) => Promise<T>): Promise<T> {
    const client = await this.connect(options);
    const query: Query = async <R extends QueryResultRow>(statement: Prisma.Sql) =>
      (await client.query<R>(statement.text, statement.values)).rows;
    let broken: Error | undefined;
    // a checked-out connection that breaks between statements (Postgres restarted, the network
    // cut) emits 'error', which with no listener would end the process: it is discarded instead
    const onError = (err: Error) => {
      broken = err;
    };
    client.on("error", onError);
    try {
      const given = typeof options.timeoutMs === "function" ? options.timeoutMs() : options.timeoutMs;
      const ms = Math.max(1, Math.floor(given));
      // a simple-protocol multi-statement: one round trip (SET LOCAL takes no parameters)
      await client.query(`BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL statement_timeout = ${ms}; SET LOCAL lock_timeout = ${ms}`);
      const result = await work(query);
      options.beforeCommit?.();
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch((rollbackFailed: Error) => {
        broken = rollbackFailed;
      });
      throw postgresFailure(err);
    } finally {
      client.off("error", onError);
      client.release(broken);
    }
  }

  /** A pool connection, waited for at most `connectWithinMs` (one that comes later goes straight back). */
  private async connect(options: SqlTransactionOptions): Promise<PoolClient> {
    const pending = this.pool.connect();
    const within = options.connectWithinMs;
    try {
      if (within === undefined) return await pending;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(options.onConnectTimeout?.() ?? new Error("timeout exceeded when trying to connect")), within);
      });
      try {
        return await Promise.race([pending, late]);
      } finally {
        clearTimeout(timer);
      }
    } catch (err) {
      pending.then(
        (client) => client.release(),
        () => {},
      );
      throw postgresFailure(err);
    }
  }
}
