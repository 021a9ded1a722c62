import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { freePort, sleep } from "@concert/test-support";

const ROOT = join(__dirname, "../../../..");
export const MAINS = {
  gateway: join(ROOT, "apps/gateway/dist/main.js"),
  booking: join(ROOT, "apps/booking/dist/main.js"),
};

export type AppKind = keyof typeof MAINS;

/** One `node apps/<app>/dist/main.js` process, configured by environment only. */
export class AppProcess {
  child!: ChildProcess;
  port = 0;
  /** the last few KB of its output, for failure messages */
  private tail = "";
  /** error-level log lines (pino level 50+), for failure messages */
  errors: string[] = [];
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  private exited!: Promise<void>;

  constructor(
    readonly kind: AppKind,
    readonly name: string,
    private env: Record<string, string>,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get alive(): boolean {
    return this.exitCode === null && this.exitSignal === null && !!this.child;
  }

  /** Starts it (on its old port when restarting) and waits until /health answers. */
  async start(): Promise<this> {
    if (!this.port) this.port = await freePort();
    this.exitCode = null;
    this.exitSignal = null;
    this.tail = "";
    const child = spawn(process.execPath, [MAINS[this.kind]], {
      // loopback only: booking's own default (the trust scenario checks it), set for the gateway
      env: { PATH: process.env.PATH ?? "", ...this.env, PORT: String(this.port), ...(this.kind === "gateway" && { HOST: "127.0.0.1" }) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    const keep = (d: Buffer) => {
      const text = d.toString();
      this.tail = (this.tail + text).slice(-4000);
      for (const line of text.split("\n")) {
        // unhandled errors and fatal lines (pino-http's 5xx "request completed" lines are only echoes)
        if (/"level":60|"msg":"unhandled error"/.test(line) && this.errors.length < 20)
          this.errors.push(line.replace(/"stack":"[^"]*",?/, "").slice(0, 1200));
      }
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        resolve();
      }),
    );
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (!this.alive) throw new Error(`${this.name} exited (${this.exitCode ?? this.exitSignal}) at start:\n${this.tail}`);
      try {
        const res = await fetch(`${this.url}/health`);
        if (res.ok) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`${this.name} did not answer /health within 20 s:\n${this.tail}`);
      await sleep(50);
    }
    return this;
  }

  /** Sends a signal to this process (by its own pid) and, for SIGKILL, waits for the exit. */
  async signal(sig: NodeJS.Signals): Promise<void> {
    if (!this.alive) return;
    this.child.kill(sig);
    if (sig === "SIGKILL") await this.exited;
  }

  /** Waits for the exit; returns the code (null when killed by a signal). */
  async waitExit(timeoutMs = 15_000): Promise<number | null> {
    const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), timeoutMs).unref());
    if ((await Promise.race([this.exited, timer])) === "timeout")
      throw new Error(`${this.name} did not exit within ${timeoutMs} ms:\n${this.tail}`);
    return this.exitCode;
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    this.child.kill("SIGTERM");
    const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 12_000).unref());
    if ((await Promise.race([this.exited, timer])) === "timeout") await this.signal("SIGKILL");
  }

  output(): string {
    return this.tail;
  }

  setEnv(env: Record<string, string>): void {
    this.env = { ...this.env, ...env };
  }
}

export { once };
