import type { Request } from "express";
import type { Cluster, Redis } from "ioredis";
import { AUDIT_LOG_MAX_ENTRIES, AppError, OPERATOR_NAME_MAX, OPERATOR_NAME_PATTERN, redisCall, type AuditEntry } from "@concert/shared";

export type NewAuditEntry = Omit<AuditEntry, "id" | "at">;

/** The key of a deployment's audit log (one per QUEUE_NAME, shared by every gateway instance). */
export const auditKey = (queueName: string) => `{audit:${queueName}}:log`;

/**
 * Who is acting: the `X-Operator` header, trimmed. Missing or blank → null (the admin API keeps
 * working for scripts that send none; the entry says nobody was named). Longer than
 * OPERATOR_NAME_MAX or anything but printable ASCII (control characters, which could forge lines
 * in a log view) → 400, and the action is not applied.
 */
export function operatorOf(req: Request): string | null {
  const raw = req.headers["x-operator"];
  if (raw === undefined) return null;
  const value = (Array.isArray(raw) ? raw.join(",") : raw).trim();
  if (value === "") return null;
  if (value.length > OPERATOR_NAME_MAX || !OPERATOR_NAME_PATTERN.test(value)) {
    throw new AppError("VALIDATION_FAILED", `X-Operator: 1 to ${OPERATOR_NAME_MAX} printable ASCII characters`, { field: "X-Operator" });
  }
  return value;
}

/**
 * The operators' audit log: a Redis stream (XADD, trimmed to about AUDIT_LOG_MAX_ENTRIES), so every
 * instance appends to and reads the same log, and Redis orders the entries.
 */
export class AuditLog {
  constructor(
    private readonly redis: Redis | Cluster,
    readonly key: string,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = AUDIT_LOG_MAX_ENTRIES,
  ) {}

  async append(entry: NewAuditEntry): Promise<string> {
    const at = new Date(this.now()).toISOString();
    const id = await redisCall(
      this.redis.xadd(this.key, "MAXLEN", "~", String(this.maxEntries), "*", "e", JSON.stringify({ at, ...entry })),
    );
    return id!;
  }

  /** Newest first: up to `limit` entries older than the entry `before` (from the newest when absent). */
  async page(limit: number, before?: string): Promise<{ entries: AuditEntry[]; next: string | null }> {
    const rows = await redisCall(this.redis.xrevrange(this.key, before ? `(${before}` : "+", "-", "COUNT", limit + 1));
    const entries = rows.slice(0, limit).map(([id, fields]) => ({ id, ...(JSON.parse(fields[1]) as Omit<AuditEntry, "id">) }));
    return { entries, next: rows.length > limit ? entries[entries.length - 1].id : null };
  }
}
