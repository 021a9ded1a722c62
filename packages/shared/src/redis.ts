import Redis, { Cluster, type ClusterOptions, type RedisOptions } from "ioredis";
import { DependencyError, SOCKET_ERROR_CODES } from "./errors";

/** A single Redis server or a Redis Cluster: every app path takes either. */
export type RedisClient = Redis | Cluster;

/** `redis+cluster://h1:p1,h2:p2,...` (or `rediss+cluster://` for TLS) names the seed nodes of a Redis Cluster. */
const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(.+)$/;

export function isClusterUrl(url: string): boolean {
  return CLUSTER_URL.test(url);
}

/**
 * `redis+sentinel://user:pass@h1:p1,h2:p2,h3:p3/<masterName>` (or `rediss+sentinel://`) names the
 * sentinels that watch the primary called masterName; `?sentinelPassword=` (and
 * `sentinelUsername=`) when the sentinels themselves require AUTH.
 */
const SENTINEL_URL = /^(rediss?)\+sentinel:\/\/(.+)$/;

/** A URL naming several hosts (a cluster's seeds or the sentinels): its credentials come once, before the list. */
function isMultiHostUrl(url: string): boolean {
  return CLUSTER_URL.test(url) || SENTINEL_URL.test(url);
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
 * with the same fail-fast behaviour (the queue keys share a hash tag, so its scripts run there too);
 * `redis+sentinel://user:pass@h1:p1,.../<masterName>` gives a client of the primary the sentinels
 * name, which follows a failover to the new primary by itself (see createSentinelClient).
 */
export function createRedis(url: string, options: RedisOptions = {}): RedisClient {
  const client = createClient(url, options);
  // Errors surface on commands; an unhandled 'error' event would only add noise.
  client.on("error", () => {});
  return client;
}

function createClient(url: string, options: RedisOptions): RedisClient {
  const cluster = CLUSTER_URL.exec(url);
  if (cluster) return createCluster(cluster[1], parseMultiHost(cluster[2], "redis+cluster", 6379), options);
  const sentinel = SENTINEL_URL.exec(url);
  if (sentinel) return createSentinelClient(sentinel[1], parseMultiHost(sentinel[2], "redis+sentinel", 26379), options);
  return new Redis(url, { ...FAIL_FAST, ...options });
}

/** What follows `scheme://` in a multi-host URL: `user:pass@h1:p1,h2:p2/<path>?<query>`. */
interface MultiHost {
  hosts: { host: string; port: number }[];
  username?: string;
  password?: string;
  /** the path without its `/` (a sentinel URL's master name) */
  path: string;
  query: URLSearchParams;
}

function parseMultiHost(rest: string, scheme: string, defaultPort: number): MultiHost {
  // Credentials, if any, come once before the host list: user:pass@h1:p1,h2:p2
  const at = rest.lastIndexOf("@");
  const auth = at >= 0 ? rest.slice(0, at) : "";
  const [location, query = ""] = (at >= 0 ? rest.slice(at + 1) : rest).split("?", 2);
  const slash = location.indexOf("/");
  const hosts = (slash >= 0 ? location.slice(0, slash) : location)
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean)
    .map((h) => {
      const u = new URL(`redis://${h}`);
      // (an IPv6 address comes back bracketed; ioredis wants it bare)
      return { host: u.hostname.replace(/^\[(.*)\]$/, "$1"), port: u.port ? Number(u.port) : defaultPort };
    });
  if (hosts.length === 0) throw new Error(`a ${scheme}:// URL needs at least one host:port`);
  const [username, password] = auth ? auth.split(":").map(decodeURIComponent) : [];
  return {
    hosts,
    username: username || undefined,
    password: password || undefined,
    path: slash >= 0 ? decodeURIComponent(location.slice(slash + 1)) : "",
    query: new URLSearchParams(query),
  };
}

/**
 * A client of the primary that the sentinels name `masterName`, with the fail-fast settings:
 * while there is no primary, commands fail at once (503) instead of queueing. ioredis asks the
 * sentinels for the primary on every (re)connect and, with `failoverDetector`, listens for their
 * `+switch-master` to reconnect as soon as a failover is decided. A write that still lands on a
 * demoted primary is refused READONLY (503 for that request, nothing written) and makes the client
 * reconnect, which asks the sentinels again.
 */
function createSentinelClient(scheme: string, target: MultiHost, options: RedisOptions): Redis {
  if (!target.path) throw new Error("a redis+sentinel:// URL needs the master name as its path: redis+sentinel://h1:p1,h2:p2/<masterName>");
  const tls = scheme === "rediss";
  const client = new Redis({
    ...FAIL_FAST,
    sentinels: target.hosts,
    name: target.path,
    role: "master",
    username: target.username,
    password: target.password,
    sentinelUsername: target.query.get("sentinelUsername") ?? undefined,
    sentinelPassword: target.query.get("sentinelPassword") ?? undefined,
    sentinelCommandTimeout: FAIL_FAST.connectTimeout,
    // keep asking the sentinels in the background, as a single client keeps reconnecting
    sentinelRetryStrategy: (times) => Math.min(times * 100, 1000),
    failoverDetector: true,
    reconnectOnError: (err) => err.message.startsWith("READONLY"),
    tls: tls ? {} : undefined,
    enableTLSForSentinelMode: tls,
    ...options,
  });
  return reviveWhenGivenUp(client);
}

/**
 * ioredis (5.x) gives a sentinel client up for good, status `end` with no reconnect, when its
 * failover detector hears `+switch-master` while the client is between connections asking the
 * sentinels for the primary: the detector's disconnect makes that connect attempt throw, and a
 * failed connect attempt is final. In a failover that is exactly when it happens (seen here: 35
 * of 40 clients dead after one SIGKILL of the primary, every command "Connection is closed." until
 * a restart). An `end` that came straight from `connecting` without the app asking (ioredis's
 * `manuallyClosing`, set by `quit`/`disconnect`) is that case, and the client connects again, as
 * its retry strategy would have.
 */
function reviveWhenGivenUp(client: Redis): Redis {
  const closedByApp = () => (client as unknown as { manuallyClosing: boolean }).manuallyClosing;
  let last = "";
  let revivals = 0;
  for (const status of ["connecting", "connect", "ready", "close", "reconnecting"]) client.on(status, () => (last = status));
  client.on("ready", () => (revivals = 0));
  client.on("end", () => {
    if (last !== "connecting" || closedByApp()) return;
    const delay = FAIL_FAST.retryStrategy!(++revivals) as number;
    setTimeout(() => {
      if (client.status === "end" && !closedByApp()) client.connect().catch(() => {});
    }, delay).unref();
  });
  return client;
}

function createCluster(scheme: string, target: MultiHost, options: RedisOptions): Cluster {
  const { username, password } = target;
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
      username,
      password,
      tls: scheme === "rediss" ? {} : undefined,
    },
  };
  return new Cluster(target.hosts, clusterOptions);
}

/**
 * How long connectRedis waits for the first answer. A sentinel or cluster client that reaches none
 * of its hosts keeps retrying in the background without failing its connect(), so start bounds it.
 */
const FIRST_ANSWER_MS = 5_000;

/** Connects and pings, or throws with a message naming the URL and how to start Redis. */
export async function connectRedis(client: RedisClient, url: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${FIRST_ANSWER_MS} ms`)), FIRST_ANSWER_MS);
  });
  try {
    await Promise.race([firstAnswer(client), deadline]);
  } catch {
    client.disconnect();
    throw new Error(
      `Cannot reach Redis at ${redactUrl(url)}. Start one with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no (or set REDIS_URL)`,
    );
  } finally {
    clearTimeout(timer);
  }
}

async function firstAnswer(client: RedisClient): Promise<void> {
  if (client.status === "wait") await client.connect();
  await client.ping();
}

export function redactUrl(url: string): string {
  if (isMultiHostUrl(url)) return url.replace(/:[^:@/,]*@/, ":***@").replace(/(sentinelPassword=)[^&]*/, "$1***");
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
 * server that is loading, failing over, read-only (a demoted primary) or short of replicas
 * (min-replicas-to-write) answers with a reply of that name.
 */
const UNAVAILABLE =
  /^(Connection is closed|Stream isn't writeable|Reached the max retries per request limit|Command timed out|Socket closed unexpectedly|Cluster isn't ready|Failed to refresh slots cache|None of startup nodes is available|All sentinels are unreachable|connect ECONNREFUSED|read ECONNRESET|connect ETIMEDOUT|LOADING|CLUSTERDOWN|READONLY|MASTERDOWN|TRYAGAIN|NOREPLICAS)/;

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
