import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

export interface ProxyStats {
  accepted: number;
  refused: number;
  dropped: number;
  open: number;
}

/**
 * Controls a TCP proxy process (tcp-proxy.js) between the apps and Postgres or Redis:
 * 127.0.0.1:<port> → target. cut() / slow(ms) / restore() take effect before they resolve.
 */
export class TcpProxy {
  port = 0;
  private child!: ChildProcess;
  private seq = 0;
  private readonly waiting = new Map<number, (s: ProxyStats) => void>();

  constructor(
    private readonly targetPort: number,
    private readonly targetHost = "127.0.0.1",
  ) {}

  async start(): Promise<this> {
    this.child = spawn(process.execPath, [join(__dirname, "tcp-proxy.js"), this.targetHost, String(this.targetPort)], {
      stdio: ["ignore", "pipe", "inherit", "ipc"],
    });
    this.child.on("message", (m: { id: number; stats: ProxyStats }) => {
      this.waiting.get(m.id)?.(m.stats);
      this.waiting.delete(m.id);
    });
    this.port = await new Promise<number>((resolve, reject) => {
      let out = "";
      this.child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const line = out.split("\n")[0];
        if (out.includes("\n")) resolve(JSON.parse(line).port);
      });
      this.child.once("exit", (code) => reject(new Error(`tcp proxy exited ${code}`)));
    });
    return this;
  }

  private send(cmd: string, ms?: number): Promise<ProxyStats> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.send({ id, cmd, ms });
    });
  }

  /** Drops every open connection and resets new ones until restore(). */
  cut(): Promise<ProxyStats> {
    return this.send("cut");
  }

  /** Delays every chunk in both directions by `ms`. */
  slow(ms: number): Promise<ProxyStats> {
    return this.send("slow", ms);
  }

  restore(): Promise<ProxyStats> {
    return this.send("restore");
  }

  stats(): Promise<ProxyStats> {
    return this.send("stats");
  }

  async close(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    await exited;
  }
}
