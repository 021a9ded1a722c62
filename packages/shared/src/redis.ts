import Redis, { Cluster, type ClusterOptions, type RedisOptions } from "ioredis";
import { DependencyError, SOCKET_ERROR_CODES } from "./errors";

/** A single Redis server or a Redis Cluster: every app path takes either. */
export type RedisClient = Redis | Cluster;

/** `redis+cluster://h1:p1,h2:p2,...` (or `rediss+cluster://` for TLS) names the seed nodes of a Redis Cluster. */
const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(.+)$/;

export function isClusterUrl(url: string): boolean {
  return CLUSTER_URL.test(url);
}

// Fail fast instead of hanging when Redis is down: no offline queue, one retry per command, a
// command timeout; reconnect in the background so the app recovers by itself when Redis returns.
const FAIL_FAST: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 2000,
  connectTimeout: 2000,
  enableAutoPipelining: true,
  retryStrategy: (times) => Math.min(times * 100, 1000),
  lazyConnect: true,
};

/**
 * A Redis client that fails fast (see FAIL_FAST). `redis://` / `rediss://` gives one server;
 * `redis+cluster://user:pass@h1:p1,h2:p2,...` gives an ioredis Cluster seeded with those nodes,
 * with the same fail-fast behaviour (the queue keys share a hash tag, so its scripts run there too).
 */
export function createRedis(url: string, options: RedisOptions = {}): RedisClient {
  const cluster = CLUSTER_URL.exec(url);
  const client: RedisClient = cluster ? createCluster(cluster[1], cluster[2], options) : new Redis(url, { ...FAIL_FAST, ...options });
  // Errors surface on commands; an unhandled 'error' event would only add noise.
  client.on("error", () => {});
  return client;
}

function createCluster(scheme: string, rest: string, options: RedisOptions): Cluster {
  // Credentials, if any, come once before the node list: user:pass@h1:p1,h2:p2
  const at = rest.lastIndexOf("@");
  const auth = at >= 0 ? rest.slice(0, at) : "";
  const hosts = (at >= 0 ? rest.slice(at + 1) : rest).replace(/\/.*$/, "");
  const nodes = hosts
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean)
    .map((h) => {
      const u = new URL(`redis://${h}`);
      return { host: u.hostname, port: u.port ? Number(u.port) : 6379 };
    });
  if (nodes.length === 0) throw new Error("a redis+cluster:// URL needs at least one host:port");
  const [username, password] = auth ? auth.split(":").map(decodeURIComponent) : [];
  const { enableOfflineQueue, lazyConnect, enableAutoPipelining, retryStrategy, ...nodeOptions } = { ...FAIL_FAST, ...options };
  const clusterOptions: ClusterOptions = {
    enableOfflineQueue,
    lazyConnect,
    enableAutoPipelining,
    // keep trying to reach the cluster in the background, as a single client would
    clusterRetryStrategy: (times) => (retryStrategy ? (retryStrategy(times) ?? 1000) : 1000),
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    maxRedirections: 8,
    slotsRefreshTimeout: 2000,
    redisOptions: {
      ...nodeOptions,
      username: username || undefined,
      password: password || undefined,
      tls: scheme === "rediss" ? {} : undefined,
    },
  };
  return new Cluster(nodes, clusterOptions);
}

/** Connects and pings, or throws with a message naming the URL and how to start Redis. */
export async function connectRedis(client: RedisClient, url: string): Promise<void> {
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
  if (isClusterUrl(url)) return url.replace(/:[^:@/,]*@/, ":***@");
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * The failures that mean "Redis is not there" rather than "this command is wrong". ioredis rejects
 * an undeliverable or unanswered command with a plain Error (its message is all there is), and a
 * server that is loading, failing over or read-only answers with a reply of that name.
 */
const UNAVAILABLE =
  /^(Connection is closed|Stream isn't writeable|Reached the max retries per request limit|Command timed out|Socket closed unexpectedly|Cluster isn't ready|Failed to refresh slots cache|None of startup nodes is available|connect ECONNREFUSED|read ECONNRESET|connect ETIMEDOUT|LOADING|CLUSTERDOWN|READONLY|MASTERDOWN|TRYAGAIN)/;

/** A Redis client's error as the rest of the code should see it: a DependencyError when Redis is unreachable. */
export function redisFailure(err: unknown): unknown {
  if (err instanceof DependencyError || !(err instanceof Error)) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (err.name === "MaxRetriesPerRequestError" || UNAVAILABLE.test(err.message) || (code !== undefined && SOCKET_ERROR_CODES.has(code))) {
    return new DependencyError("redis", { cause: err });
  }
  return err;
}

/** Awaits a Redis call; a failure that means Redis is unreachable comes out as DependencyError("redis"). */
export async function redisCall<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    throw redisFailure(err);
  }
}
