import { createHash, createHmac, randomBytes } from "node:crypto";

/**
 * The opening's lottery: a uniformly random order of the pre-queue that an auditor can re-check.
 *
 * - The source: a 256-bit seed from the OS CSPRNG (crypto.randomBytes), stretched by HMAC-SHA256
 *   in counter mode (block k = HMAC(seed, k as 8 bytes big-endian); as HMAC_DRBG, NIST SP 800-90A,
 *   does). Not Math.random, not Lua's math.random.
 * - Uniform integers: the first 6 bytes of a block as a 48-bit number, rejected when at or above
 *   the largest multiple of n below 2^48 (no modulo bias).
 * - The permutation: Fisher–Yates over the participants sorted by user id ascending, i from the
 *   last index down to 1, swapping i with j = uniform [0, i]. Every order is equally likely and
 *   none depends on when anyone arrived (the input order is by user id, not arrival).
 *
 * The record keeps the seed, the participants (and their hash), and the hash of the resulting
 * order: {@link verifyLottery} recomputes the order from the seed and the participants and
 * compares it. The draw is made once per room across all instances (a Redis claim, then a script
 * that applies it only if no draw exists).
 */
export const LOTTERY_ALGORITHM =
  "Fisher-Yates over participants sorted by userId; j = uniform [0, i] from HMAC-SHA256(seed, counter) 48-bit blocks with rejection";

export interface LotteryRecord {
  algorithm: string;
  /** the seed, hex (256 bits from crypto.randomBytes) */
  seed: string;
  /** how many were in the pre-queue */
  participants: number;
  /** SHA-256 (hex) of the participants' user ids, sorted ascending, comma-separated */
  participantsHash: string;
  /** SHA-256 (hex) of the drawn order's user ids, comma-separated (rank 1 first) */
  orderHash: string;
  /** the participants' user ids, sorted ascending (what the auditor re-draws from) */
  participantIds: number[];
  drawnAt: string;
  drawnBy: string;
}

export const sha256Hex = (s: string): string => createHash("sha256").update(s).digest("hex");

/** Uniform integers from a seed (HMAC-SHA256 in counter mode). */
export class SeededRandom {
  private counter = 0n;
  constructor(private readonly seed: Buffer) {}

  private block(): number {
    const c = Buffer.alloc(8);
    c.writeBigUInt64BE(this.counter++);
    return createHmac("sha256", this.seed).update(c).digest().readUIntBE(0, 6);
  }

  /** uniform in [0, n) */
  below(n: number): number {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`not a bound: ${n}`);
    const limit = Math.floor(2 ** 48 / n) * n;
    for (;;) {
      const v = this.block();
      if (v < limit) return v % n;
    }
  }
}

/** The drawn order (rank 1 first) of the participants, from the seed. */
export function drawOrder(participants: readonly number[], seed: Buffer): number[] {
  const order = [...participants].sort((a, b) => a - b);
  const random = new SeededRandom(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = random.below(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Draws the order of these participants with a fresh seed; the record to keep for the audit. */
export function drawLottery(
  participants: readonly number[],
  drawnBy: string,
  at: Date,
  seed: Buffer = randomBytes(32),
): { order: number[]; record: LotteryRecord } {
  const sorted = [...participants].sort((a, b) => a - b);
  const order = drawOrder(sorted, seed);
  return {
    order,
    record: {
      algorithm: LOTTERY_ALGORITHM,
      seed: seed.toString("hex"),
      participants: sorted.length,
      participantsHash: sha256Hex(sorted.join(",")),
      orderHash: sha256Hex(order.join(",")),
      participantIds: sorted,
      drawnAt: at.toISOString(),
      drawnBy,
    },
  };
}

/** What an auditor runs: the order follows from the record's seed and participants, and its hash is the record's. */
export function verifyLottery(record: LotteryRecord, order?: readonly number[]): boolean {
  const sorted = [...record.participantIds].sort((a, b) => a - b);
  if (sha256Hex(sorted.join(",")) !== record.participantsHash || sorted.length !== record.participants) return false;
  const redrawn = drawOrder(sorted, Buffer.from(record.seed, "hex"));
  if (sha256Hex(redrawn.join(",")) !== record.orderHash) return false;
  return order === undefined || order.join(",") === redrawn.join(",");
}
