// Where the apps, scripts, benchmarks and tests look for their dependencies and for each other
// when nothing is configured: the services of one development machine. The config schemas use
// these as their defaults; the .mjs scripts import the built copy (packages/shared/dist), so they
// run after `pnpm build`, as `pnpm start`, `pnpm test` and `pnpm bench` do.

export const DEFAULT_PORTS = { gateway: 3000, booking: 3001 } as const;

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

export const DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres";

/** booking as the gateway finds it on the same machine */
export const DEFAULT_BOOKING_URL = `http://127.0.0.1:${DEFAULT_PORTS.booking}`;
