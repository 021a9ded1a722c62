import Redis, { type RedisOptions } from "ioredis";

/**
 * A Redis client that fails fast instead of hanging when Redis is down: no offline queue,
 * one retry per command, a command timeout; it keeps reconnecting in the background, so the
 * app recovers by itself when Redis returns.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2000,
    connectTimeout: 2000,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(times * 100, 1000),
    lazyConnect: true,
    ...options,
  });
  // Errors surface on commands; an unhandled 'error' event would only add noise.
  client.on("error", () => {});
  return client;
}

/** Connects and pings, or throws with a message naming the URL and how to start Redis. */
export async function connectRedis(client: Redis, url: string): Promise<void> {
  try {
    if (client.status === "wait") await client.connect();
    await client.ping();
  } catch {
    client.disconnect();
    throw new Error(
      `Cannot reach Redis at ${redactUrl(url)}. Start one with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no (or set REDIS_URL)`,
    );
  }
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}
