import type { Cluster, Redis } from "ioredis";
import type { Pool } from "pg";
import { seatGateKeys } from "@concert/shared";

export interface InvariantReport {
  checks: number;
  violations: string[];
  figures: { confirmed: number; payments: number; users: number; held: number; refunds: number };
}

/**
 * The invariants of issue 4, over the database and Redis (not the HTTP codes):
 *  1. no seat confirmed twice
 *  2. every confirmed reservation has exactly one payment; every payment confirmed something
 *  3. every balance equals the sum of its ledger and is never negative
 *  4. every payment's amount equals the price of what it confirmed (and one USE ledger row of it)
 *  5. no HELD reservation without a matching live hold key in Redis or a future expiresAt
 *  6. seat rows agree with the reservations (SOLD ⇔ one CONFIRMED reservation)
 * and of issue 15 (cancel and refund):
 *  7. a FREE seat has no live hold and no CONFIRMED reservation
 *  8. every REFUND row matches exactly one CANCELLED reservation (its user, payment and price), and
 *     every CANCELLED reservation has its REFUND row
 *  9. no payment is refunded beyond its amount
 * 10. the rows of one several-seat hold are one user's, of one date, and include its first reservation
 */
export async function checkInvariants(pool: Pool, redis: Redis | Cluster | null, bookingPrefix: string): Promise<InvariantReport> {
  const violations: string[] = [];
  let checks = 0;
  const sql = async (name: string, query: string) => {
    checks++;
    const { rows } = await pool.query(query);
    if (rows.length) violations.push(`${name}: ${JSON.stringify(rows.slice(0, 5))}${rows.length > 5 ? ` (+${rows.length - 5} more)` : ""}`);
  };

  await sql(
    "seat confirmed twice",
    `SELECT seat_id, count(*)::int AS n FROM reservation WHERE status = 'CONFIRMED' GROUP BY seat_id HAVING count(*) > 1`,
  );
  await sql(
    "confirmed reservation without its payment",
    `SELECT r.id FROM reservation r LEFT JOIN payment p ON p.id = r.payment_id WHERE r.status = 'CONFIRMED' AND p.id IS NULL`,
  );
  await sql(
    "payment on a reservation that is not confirmed",
    `SELECT id, status FROM reservation WHERE payment_id IS NOT NULL AND status NOT IN ('CONFIRMED', 'CANCELLED')`,
  );
  await sql(
    "payment (debit) without a confirmed seat",
    `SELECT p.id FROM payment p WHERE NOT EXISTS (SELECT 1 FROM reservation r WHERE r.payment_id = p.id)`,
  );
  await sql(
    "balance differs from its ledger",
    `SELECT u.id, u.point, coalesce(l.sum, 0) AS ledger FROM users u
       LEFT JOIN (SELECT user_id, sum(CASE WHEN type IN ('CHARGE', 'REFUND') THEN amount ELSE -amount END) AS sum FROM point_ledger GROUP BY user_id) l
         ON l.user_id = u.id
      WHERE u.point <> coalesce(l.sum, 0)`,
  );
  await sql(
    "negative balance",
    `SELECT id, point FROM users WHERE point < 0 UNION ALL SELECT user_id, balance_after FROM point_ledger WHERE balance_after < 0`,
  );
  await sql(
    "payment amount differs from the price of what it confirmed",
    `SELECT p.id, p.amount, coalesce(sum(r.price), 0) AS prices FROM payment p LEFT JOIN reservation r ON r.payment_id = p.id
      GROUP BY p.id, p.amount HAVING p.amount <> coalesce(sum(r.price), 0)`,
  );
  await sql(
    "payment without exactly one matching USE ledger row",
    `SELECT p.id, count(l.id)::int AS rows FROM payment p LEFT JOIN point_ledger l ON l.payment_id = p.id AND l.type = 'USE' AND l.amount = p.amount
      WHERE p.amount > 0 GROUP BY p.id HAVING count(l.id) <> 1`,
  );
  await sql(
    "SOLD seat without exactly its confirmed reservation",
    `SELECT s.id, s.reservation_id FROM seat s WHERE s.status = 'SOLD'
        AND NOT EXISTS (SELECT 1 FROM reservation r WHERE r.id = s.reservation_id AND r.seat_id = s.id AND r.status = 'CONFIRMED')
     UNION ALL
     SELECT r.seat_id, r.id FROM reservation r JOIN seat s ON s.id = r.seat_id WHERE r.status = 'CONFIRMED' AND (s.status <> 'SOLD' OR s.reservation_id <> r.id)`,
  );

  await sql(
    "FREE seat with a live hold or a CONFIRMED reservation",
    `SELECT s.id, s.reservation_id, r.id AS reservation, r.status FROM seat s
       LEFT JOIN reservation r ON r.seat_id = s.id AND (r.status = 'CONFIRMED' OR (r.status = 'HELD' AND r.expires_at > now()))
      WHERE s.status = 'FREE' AND (s.reservation_id IS NOT NULL OR r.id IS NOT NULL)`,
  );
  await sql(
    "REFUND row without exactly its cancelled reservation",
    `SELECT l.id, l.reservation_id, r.status FROM point_ledger l LEFT JOIN reservation r ON r.id = l.reservation_id
      WHERE l.type = 'REFUND' AND (r.id IS NULL OR r.status <> 'CANCELLED' OR r.user_id <> l.user_id
            OR r.payment_id IS DISTINCT FROM l.payment_id OR r.price <> l.amount)
     UNION ALL
     SELECT l.id, l.reservation_id, NULL FROM point_ledger l WHERE l.type <> 'REFUND' AND l.reservation_id IS NOT NULL`,
  );
  await sql(
    "CANCELLED reservation without exactly one REFUND row",
    `SELECT r.id, count(l.id)::int AS refunds FROM reservation r LEFT JOIN point_ledger l ON l.reservation_id = r.id AND l.type = 'REFUND'
      WHERE r.status = 'CANCELLED' GROUP BY r.id HAVING count(l.id) <> 1`,
  );
  await sql(
    "payment refunded beyond its amount",
    `SELECT p.id, p.amount, sum(l.amount) AS refunded FROM payment p JOIN point_ledger l ON l.payment_id = p.id AND l.type = 'REFUND'
      GROUP BY p.id, p.amount HAVING sum(l.amount) > p.amount`,
  );
  await sql(
    "several-seat hold split across users or dates, or without its first reservation",
    `SELECT hold_group_id FROM reservation WHERE hold_group_id IS NOT NULL GROUP BY hold_group_id
     HAVING count(DISTINCT user_id) > 1 OR count(DISTINCT concert_detail_id) > 1 OR count(*) FILTER (WHERE id = hold_group_id) <> 1`,
  );

  // HELD reservations: a future expiresAt, or a live Redis hold key naming this reservation.
  checks++;
  const { rows: held } = await pool.query<{ id: number; concert_detail_id: number; seat_no: number; live: boolean }>(
    `SELECT id, concert_detail_id, seat_no, expires_at > now() AS live FROM reservation WHERE status = 'HELD'`,
  );
  for (const h of held.filter((r) => !r.live)) {
    const key = seatGateKeys(bookingPrefix).seat(h.concert_detail_id, h.seat_no);
    const [value, ttl] = redis ? await Promise.all([redis.get(key), redis.pttl(key)]).catch(() => [null, -2] as const) : [null, -2];
    if (!(value === `r:${h.id}` && Number(ttl) > 0))
      violations.push(`HELD reservation ${h.id} has neither a future expiresAt nor a live hold key`);
  }

  const { rows: fig } = await pool.query<{ confirmed: number; payments: number; users: number; refunds: number }>(
    `SELECT (SELECT count(*)::int FROM reservation WHERE status = 'CONFIRMED') AS confirmed,
            (SELECT count(*)::int FROM point_ledger WHERE type = 'REFUND') AS refunds,
            (SELECT count(*)::int FROM payment) AS payments,
            (SELECT count(*)::int FROM users) AS users`,
  );
  return { checks, violations, figures: { ...fig[0], held: held.length } };
}
