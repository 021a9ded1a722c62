import { Prisma } from "../generated/prisma/client";
import type { Db } from "./client";
import { toNumber } from "./client";

/** Highest balance a user may have: 2^53 - 1, so every balance is exact as a JSON number. */
export const MAX_BALANCE = Number.MAX_SAFE_INTEGER;

/**
 * Balances and charges on plain pg (db.sql) rather than the Prisma client: after the holds these
 * are the busiest statements, and a query through Prisma costs several times its round trip in
 * CPU (issue 16).
 */
export class PointsRepository {
  constructor(private readonly db: Db) {}

  /**
   * Adds `amount` to the balance (creating the user at 0 first if unknown) and writes the ledger
   * row, in ONE statement: concurrent charges queue on the user's row, none is lost or applied
   * twice. Returns the new balance, or null when it would pass `cap` (nothing changed).
   */
  async charge(userId: number, amount: number, cap = MAX_BALANCE): Promise<number | null> {
    const rows = await this.db.sql.query<{ balance_after: string }>(Prisma.sql`
      WITH u AS (
        INSERT INTO users (id, point) VALUES (${userId}, ${BigInt(amount)})
        ON CONFLICT (id) DO UPDATE SET point = users.point + EXCLUDED.point
         WHERE users.point + EXCLUDED.point <= ${BigInt(cap)}
        RETURNING id, point
      )
      INSERT INTO point_ledger (user_id, type, amount, balance_after)
      SELECT id, 'CHARGE', ${BigInt(amount)}, point FROM u
      RETURNING balance_after`);
    return rows.length ? toNumber(rows[0].balance_after) : null;
  }

  /** The balance; 0 for a user never seen. */
  async balance(userId: number): Promise<number> {
    const rows = await this.db.sql.query<{ point: string }>(Prisma.sql`SELECT point FROM users WHERE id = ${userId}`);
    return rows.length ? toNumber(rows[0].point) : 0;
  }
}
