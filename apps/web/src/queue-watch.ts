import { api, ApiError, type QueueUpdate } from "./api";
import { pathOf } from "./shared";

export type Transport = "stream" | "poll";

export interface WatchHandlers {
  update(u: QueueUpdate): void;
  /** the token is no good any more (TOKEN_INVALID, TOKEN_USER_MISMATCH), or the site's sign-in (AUTH_*) */
  refused(err: ApiError): void;
  transport(t: Transport): void;
  /** a temporary problem (the page keeps trying) */
  trouble(err: ApiError): void;
}

const POLL_MS = 2_000;
/** refusals that polling again cannot cure: the page stops and says why */
const FINAL_REFUSALS = new Set(["TOKEN_INVALID", "TOKEN_USER_MISMATCH", "AUTH_REQUIRED", "AUTH_INVALID", "USER_MISMATCH"]);
/** consecutive stream errors without any message before the page falls back to polling */
const STREAM_ERRORS_BEFORE_POLL = 3;

/**
 * Follows the user's place in the queue: Server-Sent Events from GET /api/queue/stream, and
 * polling GET /api/users/{id}/token every 2 s when the stream is not available (no EventSource,
 * a proxy that breaks streams, the endpoint refusing). Stops by itself once the status is no
 * longer WAITING. Returns the function that stops it.
 */
export function watchQueue(userId: number, token: string, on: WatchHandlers): () => void {
  let stopped = false;
  let source: EventSource | null = null;
  let timer: number | undefined;

  const stop = () => {
    stopped = true;
    source?.close();
    source = null;
    if (timer !== undefined) window.clearTimeout(timer);
  };

  const deliver = (u: QueueUpdate) => {
    if (stopped) return;
    if (u.status !== "WAITING") stop();
    on.update(u);
  };

  const poll = async () => {
    if (stopped) return;
    try {
      const { result } = await api.poll(userId, token);
      deliver(result);
    } catch (err) {
      const e = err as ApiError;
      if (FINAL_REFUSALS.has(e.code)) {
        stop();
        on.refused(e);
        return;
      }
      on.trouble(e);
    }
    if (!stopped) timer = window.setTimeout(poll, POLL_MS);
  };

  const fallBackToPolling = () => {
    source?.close();
    source = null;
    if (stopped) return;
    on.transport("poll");
    void poll();
  };

  if (typeof window.EventSource !== "function") {
    fallBackToPolling();
    return stop;
  }

  let errors = 0;
  const url = `${pathOf("queueStream")}?userId=${encodeURIComponent(userId)}&token=${encodeURIComponent(token)}`;
  source = new EventSource(url);
  source.onopen = () => on.transport("stream");
  source.onmessage = (e: MessageEvent<string>) => {
    errors = 0;
    try {
      deliver(JSON.parse(e.data) as QueueUpdate);
    } catch {
      /* a frame we do not understand: ignore */
    }
  };
  source.addEventListener("refused", (e) => {
    const { code, message } = JSON.parse((e as MessageEvent<string>).data) as { code: string; message: string };
    stop();
    on.refused(new ApiError(code, message, 401));
  });
  source.onerror = () => {
    if (stopped) return;
    errors++;
    // CLOSED: the server refused the stream (4xx/5xx or not an event stream); CONNECTING:
    // the browser retries by itself, but not for ever.
    if (source?.readyState === EventSource.CLOSED || errors >= STREAM_ERRORS_BEFORE_POLL) fallBackToPolling();
  };
  return stop;
}
