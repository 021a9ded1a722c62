// Applies and creates Prisma migrations offline, with Prisma's own schema engine compiled to
// WebAssembly (@prisma/schema-engine-wasm) talking to Postgres through the `pg` driver adapter.
// The Prisma CLI downloads a native schema-engine binary before every run, which this machine
// cannot do (no route to Prisma's binaries host); this script needs no download.
//
//   node scripts/migrate.mjs                  apply prisma/migrations/*/migration.sql (= `prisma migrate deploy`)
//   node scripts/migrate.mjs --create NAME    write prisma/migrations/<timestamp>_NAME/migration.sql
//                                             with the SQL from the migrations to schema.prisma
//   node scripts/migrate.mjs --check          exit 1 when schema.prisma and the migrations drift
//
// DATABASE_URL defaults to DEFAULT_DATABASE_URL (packages/shared/src/defaults.ts, read from its
// build: run `pnpm build` first). Migrations are recorded in `_prisma_migrations` by the engine
// itself, exactly as `prisma migrate deploy` records them, so the same folder works with the CLI
// wherever its binary can be downloaded.
//
// The functions are exported for tests (apps/booking/test/support/migrate.ts, used by the booking
// tests' global setup, and tests/system/test/support/database.ts). The .wasm is instantiated by
// hand, so importing this module needs no `--experimental-wasm-modules` flag (the root scripts
// pass it anyway, as the package's own entry point would need it).
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { DEFAULT_DATABASE_URL } from "../packages/shared/dist/defaults.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);

export const SCHEMA_PATH = join(root, "prisma/schema.prisma");
export const MIGRATIONS_DIR = join(root, "prisma/migrations");
const LOCKFILE = "migration_lock.toml";
const NO_FILTERS = { externalTables: [], externalEnums: [] };
const START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";

/** Thrown when Postgres cannot be reached; the CLI prints its message on one line. */
export class DatabaseUnreachableError extends Error {
  constructor(url, cause) {
    super(
      `Cannot reach Postgres at ${redact(url)} (${cause?.code ?? cause?.message ?? "unknown error"}). ` +
        `Start it with: ${START_POSTGRES}`,
    );
    this.name = "DatabaseUnreachableError";
    this.cause = cause;
  }
}

function redact(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<invalid DATABASE_URL>";
  }
}

/**
 * pg.PoolConfig with discrete fields, not `{ connectionString }`: PrismaPg opens the shadow
 * database as `{ ...config, database }`, and pg lets a connectionString override `database`,
 * which would run the shadow migrations against the real database.
 */
export function pgConfigFromUrl(url) {
  const u = new URL(url);
  if (u.protocol !== "postgresql:" && u.protocol !== "postgres:") {
    throw new Error(`DATABASE_URL must be a postgresql:// URL, got ${redact(url)}`);
  }
  const config = {
    host: decodeURIComponent(u.hostname) || u.searchParams.get("host") || "127.0.0.1",
    port: u.port ? Number(u.port) : 5432,
    user: decodeURIComponent(u.username) || "postgres",
    database: decodeURIComponent(u.pathname.slice(1)) || "postgres",
    max: 4,
    connectionTimeoutMillis: 5000,
    allowExitOnIdle: true, // the engine may leave an idle pooled connection behind
  };
  if (u.password) config.password = decodeURIComponent(u.password);
  const sslmode = u.searchParams.get("sslmode");
  if (sslmode && sslmode !== "disable") config.ssl = { rejectUnauthorized: sslmode === "verify-full" };
  return config;
}

let wasmModule;
let lastPanic;
const engineTimers = new Set();
/** Loads the schema engine's .wasm without the --experimental-wasm-modules flag. */
async function loadSchemaEngine() {
  if (!wasmModule) {
    // The engine reports a Rust panic here before throwing (the Prisma CLI installs the same hook).
    globalThis.PRISMA_WASM_PANIC_REGISTRY ??= {
      set_message(message) {
        lastPanic = message;
      },
    };
    const bgPath = require.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
    const bg = await import(pathToFileURL(bgPath).href);
    const bytes = await readFile(join(dirname(bgPath), "schema_engine_bg.wasm"));
    // The engine starts timers (e.g. the 10 s migration-lock timeout) that it never clears, which
    // would keep the process alive; remember them so that withEngine() clears them when done.
    const imports = { ...bg };
    for (const name of Object.keys(bg).filter((n) => n.startsWith("__wbg_setTimeout_"))) {
      imports[name] = (fn, ms) => {
        const timer = bg[name](fn, ms);
        engineTimers.add(timer);
        return timer;
      };
    }
    const { instance } = await WebAssembly.instantiate(bytes, { "./schema_engine_bg.js": imports });
    bg.__wbg_set_wasm(instance.exports);
    instance.exports.__wbindgen_start();
    wasmModule = bg;
  }
  return wasmModule;
}

/**
 * Fails fast, with DatabaseUnreachableError, when Postgres does not answer at `url`. Creates the
 * database when the server answers but the database does not exist, as `prisma migrate deploy` does.
 */
export async function assertDatabaseReachable(url = DEFAULT_DATABASE_URL) {
  const pg = pgModule();
  const config = pgConfigFromUrl(url);
  const query = async (cfg, sql) => {
    const client = new pg.Client(cfg);
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query(sql);
    } finally {
      await client.end().catch(() => {});
    }
  };
  try {
    await query(config, "SELECT 1");
  } catch (err) {
    if (err?.code !== "3D000") throw new DatabaseUnreachableError(url, err); // 3D000: invalid_catalog_name
    try {
      await query({ ...config, database: "postgres" }, `CREATE DATABASE "${config.database.replace(/"/g, '""')}"`);
    } catch (createErr) {
      if (createErr?.code !== "42P04") throw new DatabaseUnreachableError(url, createErr); // 42P04: exists
    }
  }
}

function pgModule() {
  return createRequire(require.resolve("@prisma/adapter-pg"))("pg");
}

/**
 * PrismaPg whose shadow database (used by `diff` from migrations) is dropped after its pool is
 * closed, with FORCE. PrismaPg 7.10's own connectToShadowDb drops it while its pool is still
 * connected ("database is being accessed by other users") and leaks the connection it used.
 */
function createAdapterFactory(config) {
  const { PrismaPg } = require("@prisma/adapter-pg");
  const pg = pgModule();
  class ShadowSafePrismaPg extends PrismaPg {
    /** adapters the engine opened; it does not close them all, so close() does */
    opened = [];

    async connect() {
      const adapter = readCharColumns(await super.connect());
      this.opened.push(adapter);
      return adapter;
    }

    async close() {
      await Promise.allSettled(this.opened.splice(0).map((a) => a.dispose()));
    }

    async connectToShadowDb() {
      const database = `prisma_migrate_shadow_db_${randomUUID()}`;
      const admin = new pg.Client(config);
      admin.on("error", () => {});
      await admin.connect();
      await admin.query(`CREATE DATABASE "${database}"`);
      const adapter = readCharColumns(await new PrismaPg({ ...config, database }).connect());
      const dispose = adapter.dispose.bind(adapter);
      adapter.dispose = async () => {
        try {
          await dispose();
        } finally {
          await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => {});
          await admin.end().catch(() => {});
        }
      };
      return adapter;
    }
  }
  return new ShadowSafePrismaPg(config);
}

/**
 * The engine reads Postgres catalogs, whose columns of type "char" (oid 18: pg_constraint.contype
 * ...) PrismaPg 7.10 refuses ("Column type 'char' could not be deserialized"), and then expects
 * them typed as Character. pg already returns them as one-letter strings; type them so. And its
 * scripts are sent whole (below).
 */
function readCharColumns(adapter) {
  const { ColumnTypeEnum } = require("@prisma/driver-adapter-utils");
  const patch = (queryable) => {
    const queryRaw = queryable.queryRaw;
    const performIO = queryable.performIO.bind(queryable);
    queryable.queryRaw = async (query) => {
      let charColumns = [];
      // A per-call view whose performIO hides oid 18 from PrismaPg's type mapping.
      const view = Object.create(queryable, {
        performIO: {
          value: async (q) => {
            const result = await performIO(q);
            charColumns = result.fields.flatMap((field, i) => (field.dataTypeID === 18 ? [i] : []));
            for (const i of charColumns) result.fields[i] = { ...result.fields[i], dataTypeID: 25 };
            return result;
          },
        },
      });
      const resultSet = await queryRaw.call(view, query);
      for (const i of charColumns) resultSet.columnTypes[i] = ColumnTypeEnum.Character;
      return resultSet;
    };
    // A migration script goes to Postgres whole, in one simple-protocol message, as the engine's
    // own Postgres connector sends it: PrismaPg 7.10 splits it at every ";", which cuts a
    // function's body (a dollar-quoted string) apart.
    if (queryable.executeScript) {
      queryable.executeScript = async (script) => {
        try {
          await queryable.client.query(script);
        } catch (error) {
          queryable.onError(error);
        }
      };
    }
    return queryable;
  };
  const startTransaction = adapter.startTransaction.bind(adapter);
  adapter.startTransaction = async (...args) => patch(await startTransaction(...args));
  return patch(adapter);
}

/** Opens the engine on `url` with the schema at `schemaPath`; call `engine.free()` when done. */
async function openEngine(url, schemaPath) {
  const { SchemaEngine } = await loadSchemaEngine();
  const { bindMigrationAwareSqlAdapterFactory } = require("@prisma/driver-adapter-utils");
  const schema = await readFile(schemaPath, "utf8");
  const log = process.env.MIGRATE_DEBUG ? (line) => console.error(line) : () => {};
  const factory = createAdapterFactory(pgConfigFromUrl(url));
  const engine = await SchemaEngine.new({ datamodels: [[schemaPath, schema]] }, log, bindMigrationAwareSqlAdapterFactory(factory));
  return { engine, schema, close: () => factory.close() };
}

async function withEngine(url, schemaPath, fn) {
  await assertDatabaseReachable(url);
  const { engine, schema, close } = await openEngine(url, schemaPath);
  try {
    return await fn(engine, schema);
  } catch (err) {
    throw engineError(err);
  } finally {
    engine.free();
    await close();
    for (const timer of engineTimers) clearTimeout(timer);
    engineTimers.clear();
  }
}

/** The engine rejects with JSON-ish objects or strings; turn them into an Error with a message. */
function engineError(err) {
  if (lastPanic) {
    const message = `schema engine panicked: ${lastPanic}`;
    lastPanic = undefined;
    return new Error(message, { cause: err });
  }
  if (err instanceof Error) return err;
  const message = typeof err === "string" ? err : (err?.message ?? JSON.stringify(err));
  return Object.assign(new Error(message), { engineError: err });
}

/** Reads the migrations folder in the shape the engine (and the Prisma CLI) use. */
export async function loadMigrations(migrationsDir = MIGRATIONS_DIR) {
  const lockContent = await readFile(join(migrationsDir, LOCKFILE), "utf8").catch(() => null);
  const entries = await readdir(migrationsDir, { withFileTypes: true }).catch(() => []);
  const migrationDirectories = [];
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const content = await readFile(join(migrationsDir, entry.name, "migration.sql"), "utf8")
      .then((value) => ({ tag: "ok", value }))
      .catch((err) => ({ tag: "error", value: err.message }));
    migrationDirectories.push({ path: entry.name, migrationFile: { path: "migration.sql", content } });
  }
  return {
    baseDir: migrationsDir,
    lockfile: { path: LOCKFILE, content: lockContent },
    shadowDbInitScript: "",
    migrationDirectories,
  };
}

/** Applies the migrations not yet applied to `url`; returns their names. */
export async function applyMigrations({ url = DEFAULT_DATABASE_URL, migrationsDir = MIGRATIONS_DIR, schemaPath = SCHEMA_PATH } = {}) {
  const migrationsList = await loadMigrations(migrationsDir);
  return withEngine(url, schemaPath, async (engine) => {
    const { appliedMigrationNames } = await engine.applyMigrations({ migrationsList, filters: NO_FILTERS });
    return appliedMigrationNames;
  });
}

/**
 * The SQL that would bring a database built from the migrations to `schema.prisma`;
 * '' when they agree. Replays the migrations on a temporary shadow database next to `url`.
 */
export async function diffMigrationsToSchema({
  url = DEFAULT_DATABASE_URL,
  migrationsDir = MIGRATIONS_DIR,
  schemaPath = SCHEMA_PATH,
  schemaText,
} = {}) {
  const migrationsList = await loadMigrations(migrationsDir);
  return withEngine(url, schemaPath, async (engine, schema) => {
    const from = migrationsList.migrationDirectories.length ? { tag: "migrations", ...migrationsList } : { tag: "empty" };
    const to = { tag: "schemaDatamodel", files: [{ path: schemaPath, content: schemaText ?? schema }] };
    const { stdout } = await engine.diff({ from, to, script: true, exitCode: null, filters: NO_FILTERS });
    return stripEmptyMigration(stdout ?? "");
  });
}

/** The engine answers "-- This is an empty migration." when there is nothing to do. */
function stripEmptyMigration(sql) {
  const meaningful = sql
    .split("\n")
    .filter((line) => line.trim() && !line.trim().startsWith("--"))
    .join("\n");
  return meaningful ? sql.trim() + "\n" : "";
}

/** Writes prisma/migrations/<yyyymmddhhmmss>_<name>/migration.sql; returns its folder, or null if no change. */
export async function createMigration({ name, url = DEFAULT_DATABASE_URL, migrationsDir = MIGRATIONS_DIR, schemaPath = SCHEMA_PATH } = {}) {
  if (!name || !/^[a-z0-9_]+$/i.test(name)) throw new Error("usage: --create <name> (letters, digits, _)");
  const sql = await diffMigrationsToSchema({ url, migrationsDir, schemaPath });
  if (!sql) return null;
  const stamp = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
  const folder = join(migrationsDir, `${stamp}_${name.toLowerCase()}`);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, "migration.sql"), sql);
  await writeFile(
    join(migrationsDir, LOCKFILE),
    '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "postgresql"\n',
  );
  return folder;
}

async function main(argv) {
  const url = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const createAt = argv.indexOf("--create");
  if (createAt >= 0) {
    const folder = await createMigration({ name: argv[createAt + 1], url });
    console.log(folder ? `Created ${folder.slice(root.length + 1)}/migration.sql` : "No changes: schema.prisma matches the migrations.");
  } else if (argv.includes("--check")) {
    const sql = await diffMigrationsToSchema({ url });
    if (sql) {
      console.error("schema.prisma and prisma/migrations drift; create a migration with `pnpm db:migration:new <name>`:\n" + sql);
      process.exitCode = 1;
    } else {
      console.log("OK: schema.prisma matches prisma/migrations.");
    }
  } else {
    const applied = await applyMigrations({ url });
    console.log(
      applied.length
        ? `Applied ${applied.length} migration(s) to ${redact(url)}: ${applied.join(", ")}`
        : `No pending migrations for ${redact(url)}.`,
    );
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const fail = (err) => {
    console.error(err instanceof DatabaseUnreachableError ? err.message : `migrate failed: ${engineError(err).message}`);
    process.exit(1);
  };
  process.on("uncaughtException", fail); // an engine panic surfaces as an uncaught RuntimeError
  main(process.argv.slice(2)).catch(fail);
}
