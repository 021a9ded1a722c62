import type { TicketList, TicketView } from "@concert/shared";
import { Prisma } from "../generated/prisma/client";
import type { Db } from "./client";
import { refundView } from "./refunds.repository";
import { dbClock, type DbClock } from "./seat-sql";

interface TicketRow {
  id: number;
  concert_id: number;
  concert_name: string;
  concert_detail_id: number;
  starts_at: Date;
  seat_no: number;
  price: number;
  status: TicketView["status"];
  created_at: Date;
  expires_at: Date;
  payment_id: number | null;
  paid_at: Date | null;
  ledger_id: number | null;
  amount: bigint | null;
  cancelled_at: Date | null;
}

/** A user's reservations for "my tickets": read-only, newest first, keyset pages on reservation id. */
export class TicketsRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: DbClock = dbClock(),
  ) {}

  /**
   * Up to `limit` of the user's reservations older than `before` (a reservation id), newest
   * first, on the (user_id, id) index. A HELD row past its expiry reads as EXPIRED at once (the
   * sweep marks it later), as every other read treats it.
   */
  async list(userId: number, page: { limit: number; before?: number }): Promise<TicketList> {
    const now = this.clock.now();
    const before = page.before === undefined ? Prisma.empty : Prisma.sql`AND r.id < ${page.before}`;
    const rows = await this.db.$queryRaw<TicketRow[]>`
      SELECT r.id, c.id AS concert_id, c.name AS concert_name, d.id AS concert_detail_id, d.starts_at, r.seat_no, r.price,
             (CASE WHEN r.status = 'HELD' AND r.expires_at <= ${now} THEN 'EXPIRED' ELSE r.status::text END) AS status,
             r.created_at, r.expires_at, p.id AS payment_id, p.created_at AS paid_at,
             l.id AS ledger_id, l.amount, r.cancelled_at
        FROM reservation r
        JOIN concert_detail d ON d.id = r.concert_detail_id
        JOIN concert c ON c.id = d.concert_id
        LEFT JOIN payment p ON p.id = r.payment_id
        LEFT JOIN point_ledger l ON l.reservation_id = r.id
       WHERE r.user_id = ${userId} ${before}
       ORDER BY r.id DESC
       LIMIT ${page.limit + 1}`;
    const shown = rows.slice(0, page.limit);
    return { reservations: shown.map(ticketView), nextCursor: rows.length > page.limit ? shown[shown.length - 1].id : null };
  }
}

function ticketView(r: TicketRow): TicketView {
  return {
    reservationId: r.id,
    concert: { id: r.concert_id, name: r.concert_name },
    date: { concertDetailId: r.concert_detail_id, startsAt: r.starts_at.toISOString() },
    seatId: r.seat_no,
    price: r.price,
    status: r.status,
    createdAt: r.created_at.toISOString(),
    expiresAt: r.expires_at.toISOString(),
    payment: r.payment_id === null || r.paid_at === null ? null : { paymentId: r.payment_id, paidAt: r.paid_at.toISOString() },
    refund:
      r.ledger_id === null || r.amount === null || r.cancelled_at === null || r.payment_id === null
        ? null
        : refundView({ ledger_id: r.ledger_id, amount: r.amount, payment_id: r.payment_id, cancelled_at: r.cancelled_at }),
  };
}
