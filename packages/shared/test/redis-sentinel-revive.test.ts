import Redis from "ioredis";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { createRedis } from "../src/redis";

// A sentinel client of ioredis 5 used to die for good (status `end`, every command "Connection is
// closed.") when its failover detector heard `+switch-master` while the client was asking the
// sentinels for the primary, which is when a failover announces itself. A scripted sentinel makes
// that moment happen on cue; the primary is the real Redis on 6379.

const PRIMARY = { host: "127.0.0.1", port: 6379 };
const MASTER = "revive";

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const array = (items: string[]) => `*${items.length}\r\n${items.join("")}`;

/** Just enough of a sentinel for ioredis: names PRIMARY, answers when released, publishes +switch-master on cue. */
class ScriptedSentinel {
  private server: Server = createServer((socket) => this.serve(socket));
  private subscribers = new Set<Socket>();
  private sockets = new Set<Socket>();
  /** while set, questions for the primary's address wait for `answerHeld()` */
  holdAnswers = false;
  private held: (() => void)[] = [];
  private heldSeen: (() => void)[] = [];

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return (this.server.address() as AddressInfo).port;
  }

  /** resolves once a client is waiting for the primary's address */
  questionHeld(): Promise<void> {
    return this.held.length ? Promise.resolve() : new Promise((resolve) => this.heldSeen.push(resolve));
  }

  answerHeld(): void {
    this.held.splice(0).forEach((answer) => answer());
  }

  switchMaster(): void {
    const payload = `${MASTER} 127.0.0.1 ${PRIMARY.port} 127.0.0.1 ${PRIMARY.port}`;
    for (const s of this.subscribers) s.write(array([bulk("message"), bulk("+switch-master"), bulk(payload)]));
  }

  close(): Promise<void> {
    this.sockets.forEach((s) => s.destroy());
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => {
      this.subscribers.delete(socket);
      this.sockets.delete(socket);
    });
    let buffered = "";
    socket.on("data", (chunk) => {
      buffered += chunk.toString();
      for (;;) {
        const parsed = parseCommand(buffered);
        if (!parsed) return;
        buffered = buffered.slice(parsed.length);
        this.answer(
          socket,
          parsed.args.map((a) => a.toLowerCase()),
        );
      }
    });
  }

  private answer(socket: Socket, [command, sub]: string[]): void {
    if (command === "subscribe") {
      this.subscribers.add(socket);
      socket.write(array([bulk("subscribe"), bulk("+switch-master"), ":1\r\n"]));
    } else if (command === "sentinel" && sub === "sentinels") {
      socket.write("*0\r\n");
    } else if (command === "sentinel" && sub === "get-master-addr-by-name") {
      const reply = () => socket.write(array([bulk(PRIMARY.host), bulk(String(PRIMARY.port))]));
      if (!this.holdAnswers) return void reply();
      this.held.push(reply);
      this.heldSeen.splice(0).forEach((seen) => seen());
    } else {
      socket.write("+OK\r\n");
    }
  }
}

/** One RESP array of bulk strings from the front of `input`, or null while it is incomplete. */
function parseCommand(input: string): { args: string[]; length: number } | null {
  const head = /^\*(\d+)\r\n/.exec(input);
  if (!head) return null;
  let at = head[0].length;
  const args: string[] = [];
  for (let i = 0; i < Number(head[1]); i++) {
    const len = /^\$(\d+)\r\n/.exec(input.slice(at));
    if (!len) return null;
    at += len[0].length;
    if (input.length < at + Number(len[1]) + 2) return null;
    args.push(input.slice(at, at + Number(len[1])));
    at += Number(len[1]) + 2;
  }
  return { args, length: at };
}

async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe("a sentinel client (redis+sentinel://)", () => {
  let sentinel: ScriptedSentinel;
  let client: Redis;
  let admin: Redis;
  beforeEach(async () => {
    sentinel = new ScriptedSentinel();
    const port = await sentinel.listen();
    client = createRedis(`redis+sentinel://127.0.0.1:${port}/${MASTER}`) as Redis;
    admin = new Redis(PRIMARY.port, PRIMARY.host);
    await client.connect();
    // the failover detector subscribes once the client is connected
    await eventually(async () => (await client.ping()) === "PONG", 2_000);
  });
  afterEach(async () => {
    // disconnect, not quit: only disconnect also closes the failover detector's sentinel connections
    client.disconnect();
    await admin.quit();
    await sentinel.close();
  });

  it("connects again by itself when +switch-master arrives while it asks the sentinels for the primary", async () => {
    const id = await client.client("ID");
    sentinel.holdAnswers = true;
    await admin.client("KILL", "ID", String(id)); // the primary went away: the client asks the sentinels again
    await sentinel.questionHeld();
    sentinel.switchMaster(); // the failover is announced while that question is open
    await new Promise((r) => setTimeout(r, 100));
    sentinel.holdAnswers = false;
    sentinel.answerHeld();

    // ioredis on its own ends here for good ("Connection is closed." to every command)
    const back = await eventually(async () => (await client.ping()) === "PONG", 5_000);
    expect([back, client.status]).toEqual([true, "ready"]);
  });

  it("stays closed when the app closes it", async () => {
    client.disconnect();
    await new Promise((r) => setTimeout(r, 1_500));
    expect(client.status).toBe("end");
  });
});
