import { Client } from "pg";
import { adminUrl } from "./support/migrate";

/** Drops this run's database (KEEP_TEST_DB=1 keeps it for a post-mortem). */
export default async function globalTeardown(): Promise<void> {
  const url = process.env.BOOKING_TEST_DATABASE_URL;
  const name = process.env.BOOKING_TEST_DATABASE_NAME;
  if (!url || !name || process.env.KEEP_TEST_DB === "1") return;
  const admin = new Client({ connectionString: adminUrl(url) });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.end();
}
