import Redis, { Cluster } from "ioredis";
import { createServer, type AddressInfo } from "node:net";
import { connectRedis, createRedis, redactUrl } from "../src/redis";
import { redisUrl } from "../src/config";

// The URL forms createRedis takes, read without connecting (every client is lazy).
describe("createRedis URL forms", () => {
  const clients: (Redis | Cluster)[] = [];
  const make = (url: string) => {
    const client = createRedis(url);
    clients.push(client);
    return client;
  };
  afterAll(() => clients.forEach((c) => c.disconnect()));

  it("redis+sentinel:// gives a client of the named primary through every sentinel, with the credentials and the fail-fast settings", () => {
    const client = make("redis+sentinel://app:s%40cret@10.0.0.1:26379,10.0.0.2,[::1]:26381/queue?sentinelPassword=sp");
    expect(client).toBeInstanceOf(Redis);
    const o = (client as Redis).options;
    expect(o.sentinels).toEqual([
      { host: "10.0.0.1", port: 26379 },
      { host: "10.0.0.2", port: 26379 },
      { host: "::1", port: 26381 },
    ]);
    expect([o.name, o.role, o.username, o.password, o.sentinelPassword]).toEqual(["queue", "master", "app", "s@cret", "sp"]);
    expect([o.enableOfflineQueue, o.maxRetriesPerRequest, o.failoverDetector]).toEqual([false, 1, true]);
    // a write refused by a demoted primary makes the client ask the sentinels again
    expect(o.reconnectOnError?.(new Error("READONLY You can't write against a read only replica."))).toBe(true);
    expect(o.reconnectOnError?.(new Error("ERR wrong number of arguments"))).toBe(false);
  });

  it("a sentinel URL without a master name is refused by the config and by createRedis", () => {
    expect(redisUrl.safeParse("redis+sentinel://10.0.0.1:26379").success).toBe(false);
    expect(redisUrl.safeParse("redis+sentinel://10.0.0.1:26379/").success).toBe(false);
    expect(redisUrl.safeParse("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/queue").success).toBe(true);
    expect(() => createRedis("redis+sentinel://10.0.0.1:26379")).toThrow(/master name/);
  });

  it("redis+cluster:// still gives a Cluster, with the credentials given once before the nodes", () => {
    const client = make("redis+cluster://u:p@10.0.0.1:7000,10.0.0.2:7001");
    expect(client).toBeInstanceOf(Cluster);
    expect((client as Cluster).options.redisOptions).toMatchObject({ username: "u", password: "p" });
  });

  it("redacts the password and the sentinels' password in logs", () => {
    expect(redactUrl("redis+sentinel://app:secret@h1:26379,h2:26379/queue?sentinelPassword=sp")).toBe(
      "redis+sentinel://app:***@h1:26379,h2:26379/queue?sentinelPassword=***",
    );
    expect(redactUrl("redis+cluster://:secret@h1:7000")).toBe("redis+cluster://:***@h1:7000");
  });
});

/** A loopback port nothing listens on (shared cannot use test-support, which depends on it). */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe("connectRedis", () => {
  it("gives up on a sentinel URL whose sentinels all refuse, with the message naming the URL, instead of waiting forever", async () => {
    const [a, b] = [await closedPort(), await closedPort()];
    const url = `redis+sentinel://:pw@127.0.0.1:${a},127.0.0.1:${b}/queue`;
    const started = Date.now();
    await expect(connectRedis(createRedis(url), url)).rejects.toThrow(
      `Cannot reach Redis at redis+sentinel://:***@127.0.0.1:${a},127.0.0.1:${b}/queue`,
    );
    expect(Date.now() - started).toBeLessThan(8_000);
  }, 15_000);
});
