// `pnpm db:seed`: loads the demo data into DATABASE_URL (idempotent).
import { parseConfig } from "@concert/shared";
import { bookingEnv } from "../config";
import { createDb } from "./client";
import { seed } from "./seed";

/** The one variable the seed reads, validated (and defaulted) as booking itself reads it. */
export const seedEnv = bookingEnv.pick({ DATABASE_URL: true });

async function main(): Promise<void> {
  const { DATABASE_URL } = parseConfig(seedEnv);
  const db = createDb(DATABASE_URL, { poolSize: 2 });
  try {
    const r = await seed(db);
    console.log(
      `Seeded concert ${r.concertId}: ${r.concertDetailIds.length} future performances (${r.created} new): ids ${r.concertDetailIds.join(", ")}`,
    );
  } finally {
    await db.$disconnect();
  }
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  console.error(`seed failed: ${message.split("\n").filter(Boolean).slice(-1)[0] ?? message}`);
  process.exit(1);
});
