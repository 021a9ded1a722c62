// Creates a fresh database for this test run and applies prisma/migrations to it with the same
// functions `pnpm db:migrate` uses. Tests read its URL from BOOKING_TEST_DATABASE_URL.
import { Client } from "pg";
import { DEFAULT_DATABASE_URL } from "@concert/shared";
import { adminUrl, loadMigrateScript } from "./support/migrate";

export default async function globalSetup(): Promise<void> {
  const base = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const name = `booking_test_${process.pid}_${Date.now()}`;
  const admin = new Client({ connectionString: adminUrl(base) });
  await admin.connect().catch((err: Error) => {
    throw new Error(
      `Cannot reach Postgres at ${adminUrl(base)} (${err.message}). Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`,
    );
  });
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();

  const url = new URL(base);
  url.pathname = `/${name}`;
  const migrate = await loadMigrateScript();
  const applied = await migrate.applyMigrations({ url: url.toString() });
  if (applied.length === 0) throw new Error("no migrations were applied to the empty test database");
  // blocks of ids for the test files (see test/support/booking.ts)
  const db = new Client({ connectionString: url.toString() });
  await db.connect();
  await db.query("CREATE SEQUENCE test_id_block MINVALUE 1 MAXVALUE 2000");
  await db.end();

  process.env.BOOKING_TEST_DATABASE_URL = url.toString();
  process.env.BOOKING_TEST_DATABASE_NAME = name;
  process.env.BOOKING_TEST_MIGRATIONS = applied.join(",");
}
