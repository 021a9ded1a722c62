// `pnpm db:seed`: loads the demo data into DATABASE_URL (idempotent).
import { createDb } from "./client";
import { seed } from "./seed";

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres";
  const db = createDb(url, { poolSize: 2 });
  try {
    const r = await seed(db);
    console.log(
      `Seeded concert ${r.concertId}: ${r.concertDetailIds.length} future schedules (${r.created} new): ids ${r.concertDetailIds.join(", ")}`,
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
