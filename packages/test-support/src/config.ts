import { execFile } from "node:child_process";

/**
 * The message a config loader throws for `env` (a ConfigError, by name: this package depends on
 * no app); throws itself when the loader accepts `env`, so a test of a refusal cannot pass by
 * accident.
 */
export function configRefusal(load: (env: NodeJS.ProcessEnv) => unknown, env: NodeJS.ProcessEnv): string {
  try {
    load(env);
  } catch (err) {
    if (!(err instanceof Error) || err.name !== "ConfigError") throw err;
    return err.message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

/** Runs a built entry point with `env` alone (and PATH); resolves its exit code and stderr. */
export function runEntryPoint(file: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [file], { env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code as number) : 0, stderr, stdout }),
    ),
  );
}
