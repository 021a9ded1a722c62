import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** The functions scripts/migrate.mjs exports (an ES module; see that file). */
export interface MigrateScript {
  applyMigrations(o: { url: string }): Promise<string[]>;
  diffMigrationsToSchema(o: { url: string; schemaText?: string }): Promise<string>;
  loadMigrations(dir?: string): Promise<{ migrationDirectories: { path: string }[] }>;
  SCHEMA_PATH: string;
  MIGRATIONS_DIR: string;
}

// ts-jest compiles to CommonJS, which would turn import() into require(); keep a real import().
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- the one way to keep import() under ts-jest
const nativeImport = new Function("specifier", "return import(specifier)") as (s: string) => Promise<unknown>;

export async function loadMigrateScript(): Promise<MigrateScript> {
  return (await nativeImport(pathToFileURL(join(__dirname, "../../../../scripts/migrate.mjs")).href)) as MigrateScript;
}

/** The same server, database `postgres` (to create and drop test databases from). */
export function adminUrl(url: string): string {
  const u = new URL(url);
  u.pathname = "/postgres";
  return u.toString();
}

/**
 * Calls one exported function of scripts/migrate.mjs in a child process and returns its result.
 * Inside a Jest test (a vm context) import() of an ES module needs --experimental-vm-modules;
 * a child process needs nothing.
 */
export async function callMigrateScript<T>(fn: keyof MigrateScript, arg?: unknown): Promise<T> {
  const { execFile } = await import("node:child_process");
  const script = pathToFileURL(join(__dirname, "../../../../scripts/migrate.mjs")).href;
  const code = `const m = await import(${JSON.stringify(script)});
    const r = await m[${JSON.stringify(fn)}](JSON.parse(process.env.MIGRATE_ARG ?? "null") ?? undefined);
    process.stdout.write(JSON.stringify(r ?? null));`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", code],
      { env: { ...process.env, MIGRATE_ARG: JSON.stringify(arg ?? null) }, timeout: 30_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${fn} failed: ${stderr || err.message}`)) : resolve(JSON.parse(stdout) as T)),
    );
  });
}
