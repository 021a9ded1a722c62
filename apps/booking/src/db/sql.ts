import { createHash } from "node:crypto";
import type { Pool, PoolClient, QueryConfig, QueryResult, QueryResultRow } from "pg";
import type { Prisma } from "../generated/prisma/client";
import { postgresFailure } from "./postgres-errors";
import { sqlLiteral } from "./sql-literal";

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
   * The transaction's last statements (one, or several as `many` runs them) and its COMMIT in one
   * round trip; the rows of the last. `beforeCommit` is asked first, the timeouts are set (again)
   * to the time left then, and a statement that fails commits nothing. Nothing may follow it in
   * `work`, which should return its result as it is.
   */
  commitWith<R extends QueryResultRow = QueryResultRow>(...statements: Prisma.Sql[]): Promise<R[]>;
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
 * Every statement is prepared once per connection and then only executed, so Postgres parses and
 * plans it once per connection, not once per call (a hold's statements cost ~0.25 ms of planning
 * each, warm). Its name is its text's hash: the statement texts are the templates of the
 * repositories, a fixed set. Past PREPARED_LIMIT texts (a template whose text varies with its
 * input, say) the rest go unprepared, as single statements with parameters, or with their values
 * written in the text.
 */
const PREPARED_LIMIT = 256;
const names = new Map<string, string>();
function statementName(text: string): string | undefined {
  let name = names.get(text);
  if (name === undefined && names.size < PREPARED_LIMIT) {
    name = createHash("sha1").update(text).digest("hex").slice(0, 24);
    names.set(text, name);
  }
  return name;
}

/** A lone statement as pg sends it: with parameters, and prepared under its name on the connection (pg keeps track). */
function extended(statement: Prisma.Sql): QueryConfig {
  const name = statementName(statement.text);
  return { text: statement.text, values: statement.values, ...(name && { name: `q${name}` }) };
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
      return (await this.pool.query<R>(extended(statement))).rows;
    } catch (err) {
      throw postgresFailure(err);
    }
  };

  /** The statements prepared with SQL PREPARE on each connection (they outlive transactions, rolled back or not). */
  private readonly prepared = new WeakMap<PoolClient, Set<string>>();

  /**
   * Runs `work` in one READ COMMITTED transaction on one connection. BEGIN and its timeouts go in
   * the round trip of the first statement, COMMIT in one of its own or with the last statement
   * (`commitWith`); so a transaction of n round trips of statements costs n + 1, or n. Whatever
   * `work` (or `beforeCommit`) throws rolls it back and is rethrown, classified. A connection
   * whose rollback failed is discarded, not reused.
   *
   * A round trip that carries more than one statement is a simple-protocol message, which takes no
   * parameters: each statement in it is an `EXECUTE` of the statement prepared (once per
   * connection, by a PREPARE in the same message the first time) with its values as quoted literals
   * (sql-literal.ts), which the prepared statement's parameters type as they type values bound to
   * them. A lone statement is sent with parameters, prepared, as `query` sends it.
   */
  async transaction<T>(options: SqlTransactionOptions, work: (query: TxQuery) => Promise<T>): Promise<T> {
    const client = await this.connect(options);
    let begun = false;
    let ended = false;
    let committed = false;
    let broken: Error | undefined;
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
      if (head.length === 0 && statements.length === 1) return [(await client.query(extended(statements[0]))).rows];
      const { prepares, executes, names } = this.executes(client, statements);
      begun = true;
      ended = commit;
      const text = [...head, ...prepares, ...executes, ...(commit ? ["COMMIT"] : [])].join("\n;\n");
      // one result per statement of a message of several (pg types it as one)
      let answered: unknown;
      try {
        answered = await client.query<QueryResultRow>(text);
      } catch (err) {
        if (prepares.length > 0) broken = err as Error; // which of its PREPAREs ran is unknown: the connection goes
        throw err;
      }
      for (const name of names) this.preparedOn(client).add(name);
      committed = commit;
      const results = (Array.isArray(answered) ? answered : [answered]) as QueryResult<QueryResultRow>[];
      const first = head.length + prepares.length;
      return results.slice(first, first + statements.length).map((r) => r.rows);
    };
    const query = (async <R extends QueryResultRow>(statement: Prisma.Sql) => (await send([statement], false))[0] as R[]) as TxQuery;
    query.many = async <R extends QueryResultRow[][]>(...statements: Prisma.Sql[]) => (await send(statements, false)) as R;
    query.commitWith = async <R extends QueryResultRow>(...statements: Prisma.Sql[]) => (await send(statements, true)).at(-1) as R[];
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

  private preparedOn(client: PoolClient): Set<string> {
    let prepared = this.prepared.get(client);
    if (!prepared) this.prepared.set(client, (prepared = new Set()));
    return prepared;
  }

  /**
   * Each statement as `EXECUTE name(literals)`, and the PREPAREs of those this connection has not
   * prepared yet, to go ahead of them in the same message (after BEGIN and the timeouts, which
   * bound them too); `names` are prepared once the message has succeeded. A statement past
   * PREPARED_LIMIT goes as its text with the literals in place of its `$n`.
   */
  private executes(client: PoolClient, statements: Prisma.Sql[]): { prepares: string[]; executes: string[]; names: string[] } {
    const prepared = this.preparedOn(client);
    const missing = new Map<string, string>();
    const executes = statements.map((statement) => {
      const literals = statement.values.map(sqlLiteral);
      const name = statementName(statement.text);
      if (name === undefined) return statement.text.replace(/\$(\d+)/g, (_, n: string) => literals[Number(n) - 1]);
      if (!prepared.has(name)) missing.set(name, `PREPARE p${name} AS ${statement.text}`);
      return literals.length ? `EXECUTE p${name}(${literals.join(", ")})` : `EXECUTE p${name}`;
    });
    return { prepares: [...missing.values()], executes, names: [...missing.keys()] };
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
