import { getGlobalDispatcher, type Dispatcher } from "undici";

export interface HttpOptions {
  /** sent as JSON, with content-type application/json unless the headers name one */
  body?: unknown;
  /** sent as it is (malformed JSON, other content types) */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  /** the connection pool to use; undici's global one unless given */
  dispatcher?: Dispatcher;
  /**
   * Resolve the path as fetch and browsers do (dot segments, percent-encoding, no fragment).
   * Without it the path goes on the wire exactly as written, hostile or not.
   */
  asFetch?: boolean;
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** the body as sent */
  text: string;
  /** the body parsed as JSON when it is JSON, else the text; null when empty */
  body: unknown;
}

/** One HTTP request, the answer read whole. Throws when there is no answer (refused, reset, timed out). */
export async function httpCall(base: string, method: string, path: string, o: HttpOptions = {}): Promise<HttpReply> {
  const headers: Record<string, string> = { ...o.headers };
  let body: string | Buffer | undefined = o.raw;
  if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers["content-type"] ??= "application/json";
  }
  let origin = base;
  if (o.asFetch) {
    const url = new URL(base + path);
    origin = url.origin;
    path = url.pathname + url.search;
  }
  const res = await (o.dispatcher ?? getGlobalDispatcher()).request({ origin, path, method, headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, body: parseJson(text) };
}

function parseJson(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The answer's headers as a fetch `Headers`, for callers written against fetch. */
export function toHeaders(headers: HttpReply["headers"]): Headers {
  const h = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) h.append(name, v);
  }
  return h;
}
