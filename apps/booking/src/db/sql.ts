import type { Pool, PoolClient, QueryResult, QueryResultRow } from "pg";
import type { Prisma } from "../generated/prisma/client";
import { postgresFailure } from "./postgres-errors";
import { inlineSql } from "./sql-literal";

/**
 * One statement's rows. The statement is a `Prisma.sql` template (its fragments, `Prisma.join` and
 * the seat-sql.ts rules compose as in `$queryRaw`), sent as its `$n` text and values. Plain `pg`
 * types: int4 is a number, int8 (bigint) a string, timestamptz a Date.
 */
export type Query = <R extends QueryResultRow = QueryResultRow>(statement: Prisma.Sql) => Promise<R[]>;

/**
 * The statements of one transaction ({@link Sql.transaction}): one at a time as `query` does, or
 * several in one round trip, or the last one with its COMMIT.
 */
export interface TxQuery extends Query {
  /**
   * Several statements in one round trip (one simple-protocol message), run in order, each on a
   * snapshot of its own (READ COMMITTED: a later one sees what committed while an earlier one
   * waited for a lock); the rows of each. One that fails skips the rest and the transaction rolls back.
   */
  many<T extends QueryResultRow[][]>(...statements: Prisma.Sql[]): Promise<T>;
  /**
   * The transaction's last statement and its COMMIT in one round trip: `beforeCommit` is asked
   * first, the timeouts are set again to the time left then, and a statement that fails commits
   * nothing. Nothing may follow it in `work`, which should return its result as it is.
   */
  commitWith<R extends QueryResultRow = QueryResultRow>(statement: Prisma.Sql): Promise<R[]>;
}

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
   * Runs `work` in one READ COMMITTED transaction on one connection. BEGIN and its timeouts go in
   * the round trip of the first statement, COMMIT in one of its own or with the last statement
   * (`commitWith`); so a transaction of n round trips of statements costs n + 1, or n. Whatever
   * `work` (or `beforeCommit`) throws rolls it back and is rethrown, classified. A connection
   * whose rollback failed is discarded, not reused.
   *
   * A round trip that carries more than one statement is a simple-protocol message, which takes no
   * parameters: its statements' values go in as quoted literals (sql-literal.ts), which Postgres
   * types from their context as it types untyped parameters. A lone statement is sent with
   * parameters as `query` sends it.
   */
  async transaction<T>(options: SqlTransactionOptions, work: (query: TxQuery) => Promise<T>): Promise<T> {
    const client = await this.connect(options);
    let begun = false;
    let ended = false;
    let committed = false;
    const timeouts = () => {
      const given = typeof options.timeoutMs === "function" ? options.timeoutMs() : options.timeoutMs;
      const ms = Math.max(1, Math.floor(given));
      // SET LOCAL takes no parameters; ms is an integer of our own
      return [`SET LOCAL statement_timeout = ${ms}`, `SET LOCAL lock_timeout = ${ms}`];
    };
    /** One round trip: BEGIN ahead of the transaction's first statements, COMMIT after its last. */
    const send = async (statements: Prisma.Sql[], commit: boolean): Promise<QueryResultRow[][]> => {
      if (ended) throw new Error("the transaction has ended: commitWith must be its last statement");
      const head: string[] = [];
      if (commit) options.beforeCommit?.();
      if (!begun) head.push("BEGIN ISOLATION LEVEL READ COMMITTED", ...timeouts());
      else if (commit) head.push(...timeouts());
      begun = true;
      ended = commit;
      if (head.length === 0 && statements.length === 1) {
        const [statement] = statements;
        return [(await client.query(statement.text, statement.values)).rows];
      }
      const text = [...head, ...statements.map(inlineSql), ...(commit ? ["COMMIT"] : [])].join("\n;\n");
      const answered = (await client.query(text)) as unknown as QueryResult<QueryResultRow> | QueryResult<QueryResultRow>[];
      committed = commit;
      const results = Array.isArray(answered) ? answered : [answered];
      return results.slice(head.length, head.length + statements.length).map((r) => r.rows);
    };
    const query = (async <R extends QueryResultRow>(statement: Prisma.Sql) => (await send([statement], false))[0] as R[]) as TxQuery;
    query.many = async <R extends QueryResultRow[][]>(...statements: Prisma.Sql[]) => (await send(statements, false)) as R;
    query.commitWith = async <R extends QueryResultRow>(statement: Prisma.Sql) => (await send([statement], true))[0] as R[];
    let broken: Error | undefined;
    // a checked-out connection that breaks between statements (Postgres restarted, the network
    // cut) emits 'error', which with no listener would end the process: it is discarded instead
    const onError = (err: Error) => {
      broken = err;
    };
    client.on("error", onError);
    try {
      const result = await work(query);
      if (begun && !ended) {
        options.beforeCommit?.();
        ended = true;
        await client.query("COMMIT");
      }
      return result;
    } catch (err) {
      if (begun && !committed) {
        await client.query("ROLLBACK").catch((rollbackFailed: Error) => {
          broken = rollbackFailed;
        });
      }
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
