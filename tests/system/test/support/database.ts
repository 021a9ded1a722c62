import { execFile } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Client, Pool } from "pg";
import { DEFAULT_DATABASE_URL } from "@concert/shared";

const MIGRATE_SCRIPT = join(__dirname, "../../../../scripts/migrate.mjs");
export const BASE_DATABASE_URL = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || DEFAULT_DATABASE_URL;

export function databaseUrl(name: string, port?: number, base = BASE_DATABASE_URL): string {
  const u = new URL(base);
  u.pathname = `/${name}`;
  if (port !== undefined) {
    u.hostname = "127.0.0.1";
    u.port = String(port);
  }
  return u.toString();
}

/**
 * A fresh database for one test file, migrated with the same function `pnpm db:migrate` uses
 * (scripts/migrate.mjs, run in a child process: an ES module with WebAssembly inside Jest's vm
 * would need --experimental-vm-modules).
 */
export async function createDatabase(tag: string): Promise<{ name: string; url: string; pool: Pool; drop(): Promise<void> }> {
  const name = `system_${tag}_${process.pid}_${Date.now()}`.toLowerCase();
  const admin = new Client({ connectionString: databaseUrl("postgres") });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = databaseUrl(name);
  const code = `const m = await import(${JSON.stringify(pathToFileURL(MIGRATE_SCRIPT).href)});
    const applied = await m.applyMigrations({ url: process.env.MIGRATE_URL });
    process.stdout.write(JSON.stringify(applied));`;
  const applied = await new Promise<string[]>((resolve, reject) =>
    execFile(
      process.execPath,
      ["--input-type=module", "-e", code],
      { env: { ...process.env, MIGRATE_URL: url }, timeout: 60_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`migration failed: ${stderr || err.message}`)) : resolve(JSON.parse(stdout))),
    ),
  );
  if (applied.length === 0) throw new Error("no migrations applied");
  const pool = new Pool({ connectionString: url, max: 4 });
  pool.on("error", () => {});
  return {
    name,
    url,
    pool,
    async drop() {
      await pool.end().catch(() => {});
      if (process.env.KEEP_TEST_DB === "1") return;
      const a = new Client({ connectionString: databaseUrl("postgres") });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await a.end();
    },
  };
}

/** A concert with `performances` future performances of 50 seats each; returns their ids. */
export async function seedConcert(pool: Pool, concertId: number, performances: number, seatPrice = 50_000): Promise<number[]> {
  await pool.query(`INSERT INTO concert (id, name) VALUES ($1, $2)`, [concertId, `System ${concertId}`]);
  const { rows } = await pool.query<{ id: number }>(
    `INSERT INTO concert_detail (concert_id, starts_at, seat_price)
     SELECT $1, date_trunc('day', now()) + g * interval '7 days' + interval '19 hours', $3 FROM generate_series(1, $2::int) g
     RETURNING id`,
    [concertId, performances, seatPrice],
  );
  const ids = rows.map((r) => r.id).sort((a, b) => a - b);
  await pool.query(`INSERT INTO seat (concert_detail_id, seat_no) SELECT d, s FROM unnest($1::int[]) d, generate_series(1, 50) s`, [ids]);
  return ids;
}

/**
 * Every row of every booking table, hashed: equal before and after means nothing changed.
 * Also returns the row counts for the summary line.
 */
export async function snapshot(pool: Pool): Promise<{ hash: string; rows: Record<string, number> }> {
  const tables = ["concert", "concert_detail", "seat", "users", "point_ledger", "reservation", "payment"];
  const rows: Record<string, number> = {};
  const parts: string[] = [];
  for (const t of tables) {
    const { rows: r } = await pool.query<{ n: number; h: string | null }>(
      `SELECT count(*)::int AS n, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM ${t} x`,
    );
    rows[t] = r[0].n;
    parts.push(`${t}:${r[0].n}:${r[0].h}`);
  }
  const { rows: seq } = await pool.query<{ s: string }>(
    `SELECT string_agg(sequencename || '=' || coalesce(last_value, 0), ',' ORDER BY sequencename) AS s FROM pg_sequences`,
  );
  parts.push(seq[0].s);
  return { hash: parts.join(";"), rows };
}
