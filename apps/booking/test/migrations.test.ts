import { readFileSync } from "node:fs";
import { Client } from "pg";
import { join } from "node:path";
import { callMigrateScript } from "./support/migrate";
import { testDatabaseUrl } from "./support/booking";

describe("migrations", () => {
  it("apply to an empty database and are recorded as prisma migrate deploy records them", async () => {
    const list = await callMigrateScript<{ migrationDirectories: { path: string }[] }>("loadMigrations");
    const onDisk = list.migrationDirectories.map((d) => d.path);
    expect(onDisk.length).toBeGreaterThan(0);
    expect(process.env.BOOKING_TEST_MIGRATIONS?.split(",")).toEqual(onDisk);

    const db = new Client({ connectionString: testDatabaseUrl() });
    await db.connect();
    try {
      const { rows } = await db.query(
        "SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name",
      );
      expect(rows.map((r) => r.migration_name)).toEqual(onDisk);
      for (const r of rows) {
        expect(r.checksum).toMatch(/^[0-9a-f]{64}$/);
        expect(r.finished_at).not.toBeNull();
        expect(r.rolled_back_at).toBeNull();
      }
      // applying again is a no-op
      expect(await callMigrateScript("applyMigrations", { url: testDatabaseUrl() })).toEqual([]);
    } finally {
      await db.end();
    }
  });

  it("schema.prisma (and so the generated client) agrees with the migrations: the diff between them is empty", async () => {
    expect(await callMigrateScript("diffMigrationsToSchema", { url: testDatabaseUrl() })).toBe("");
  });

  it("the drift check fails when schema.prisma changes without a migration", async () => {
    const schema = readFileSync(join(__dirname, "../../../prisma/schema.prisma"), "utf8");
    const drifted = schema.replace(/model Concert \{\n/, "model Concert {\n  venue String?\n");
    expect(drifted).not.toBe(schema);
    const sql = await callMigrateScript<string>("diffMigrationsToSchema", { url: testDatabaseUrl(), schemaText: drifted });
    expect(sql).toContain('ADD COLUMN     "venue" TEXT');
  });
});
