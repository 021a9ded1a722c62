import { z } from "zod";
import type { AdmissionSettings } from "./queue-store";

/**
 * What an admission setting may be, whoever sets it: the gateway's QUEUE_* variables at start and
 * the operators' live overrides (PATCH /admin/queue/settings) are both checked against this.
 */
export const admissionSettings = z.object({
  /** users admitted per tick */
  batch: z.number().int().min(1).max(100_000),
  /** how often a tick runs */
  tickMs: z.number().int().min(10).max(3_600_000),
  /** admission stops while this many tokens are active */
  maxActive: z.number().int().min(1).max(10_000_000),
}) satisfies z.ZodType<AdmissionSettings>;
