import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import { BalancedPool, errors as undiciErrors, type Dispatcher } from "undici";
import {
  DependencyError,
  OPERATOR_USER_ID,
  PASSPORT_HEADER,
  bodyDigest,
  passportNonce,
  signPassport,
  type Passport,
  type PassportBinding,
} from "@concert/shared";

export interface ForwarderOptions {
  urls: string[];
  passportSecret: string;
  passportTtlSec: number;
  timeoutMs: number;
}

/** What the caller vouches for: the user (always) and, on token routes, the token and its replay state. */
export type PassportIdentity = Omit<Passport, "exp" | "requestId" | "deadline" | "nonce" | keyof PassportBinding>;

export interface OperatorReply {
  status: number;
  envelope: { result: unknown; error: { code: string; message: string; details?: Record<string, unknown> } | null };
}

/** What the forward reads of a client's request (Express's and the hot path's alike, api/forward-routes.ts). */
export interface OutgoingRequest {
  method: string;
  /** path and query string, exactly as sent to booking (and bound into the passport) */
  url: string;
  headers: IncomingHttpHeaders;
  /** the parsed JSON body; undefined when the request has none */
  body: unknown;
  /** x-request-id */
  id: string;
}

export interface ForwardedReply {
  status: number;
  body: Buffer;
}

// Headers passed on to booking, and back to the client.
const REQUEST_HEADERS = ["content-type", "idempotency-key", "accept"];
const RESPONSE_HEADERS = ["content-type", "retry-after", "location"];
// Errors that mean the request never reached booking, so another instance may safely take it.
const NOT_DELIVERED = new Set(["ECONNREFUSED", "UND_ERR_CONNECT_TIMEOUT", "ENOTFOUND", "EHOSTUNREACH"]);

/**
 * Sends a verified request on to booking (undici's BalancedPool spreads load over the booking
 * instances and steers away from failing ones), with a passport signed by the gateway.
 */
export class Forwarder {
  private readonly pool: BalancedPool;

  constructor(private readonly options: ForwarderOptions) {
    this.pool = new BalancedPool(options.urls, {
      connections: 128,
      pipelining: 1,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connectTimeout: Math.min(2000, options.timeoutMs),
    });
  }

  /** Sends the request on and booking's answer back to the client; returns that answer's status and body too. */
  async forward(req: OutgoingRequest, res: ServerResponse, identity: PassportIdentity): Promise<ForwardedReply> {
    const requestId = req.id;
    const now = Date.now();
    const hasBody = req.method !== "GET" && req.method !== "HEAD" && req.body !== undefined;
    const body = hasBody ? JSON.stringify(req.body) : undefined;
    const headers: Record<string, string> = {
      "x-request-id": requestId,
      [PASSPORT_HEADER]: signPassport(this.options.passportSecret, {
        ...identity,
        requestId,
        nonce: passportNonce(),
        exp: now + this.options.passportTtlSec * 1000,
        // when this request's timeout below answers the client 503
        deadline: now + this.options.timeoutMs,
        // good for this request only: exactly what send() below puts on the wire
        method: req.method,
        path: req.url,
        bodyDigest: bodyDigest(body),
      }),
    };
    for (const name of REQUEST_HEADERS) {
      const v = req.headers[name];
      if (typeof v === "string") headers[name] = v;
    }
    if (body !== undefined) headers["content-type"] = "application/json";

    const upstream = await this.send(req.method, req.url, headers, body);
    // plain node:http (Express's res is one too): no Express helpers on the forward's hot path
    res.statusCode = upstream.statusCode;
    for (const name of RESPONSE_HEADERS) {
      const v = upstream.headers[name];
      if (typeof v === "string") res.setHeader(name, v);
    }
    res.end(upstream.body);
    return { status: upstream.statusCode, body: upstream.body };
  }

  /**
   * The gateway's own call to one of booking's internal routes (INTERNAL_PATHS), with an operator
   * passport: the answer's status and parsed envelope.
   */
  async operatorCall(
    method: "GET" | "POST" | "PATCH",
    path: string,
    payload?: unknown,
    requestId = passportNonce(),
  ): Promise<OperatorReply> {
    const now = Date.now();
    const body = payload === undefined ? undefined : JSON.stringify(payload);
    const headers: Record<string, string> = {
      "x-request-id": requestId,
      [PASSPORT_HEADER]: signPassport(this.options.passportSecret, {
        userId: OPERATOR_USER_ID,
        operator: true,
        requestId,
        nonce: passportNonce(),
        exp: now + this.options.passportTtlSec * 1000,
        deadline: now + this.options.timeoutMs,
        method,
        path,
        bodyDigest: bodyDigest(body),
      }),
    };
    if (body !== undefined) headers["content-type"] = "application/json";
    const upstream = await this.send(method, path, headers, body);
    const text = upstream.body.toString("utf8");
    let envelope: OperatorReply["envelope"];
    try {
      envelope = JSON.parse(text) as OperatorReply["envelope"];
    } catch {
      throw new DependencyError("booking", { cause: new Error(`booking answered ${upstream.statusCode} without JSON`) });
    }
    return { status: upstream.statusCode, envelope };
  }

  private async send(method: string, path: string, headers: Record<string, string>, body: string | undefined) {
    // BalancedPool lowers a failing upstream's weight; a few quick retries let it steer to a live one.
    const attempts = this.options.urls.length * 2 + 2;
    for (let attempt = 1; ; attempt++) {
      try {
        return await exchange(this.pool, { method, path, headers, body });
      } catch (err) {
        const code = (err as { code?: string }).code ?? "";
        if (NOT_DELIVERED.has(code) && attempt < attempts) continue;
        if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
          throw new DependencyError("booking", { cause: err, retryAfterSec: 2 });
        }
        throw new DependencyError("booking", { cause: err });
      }
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** Booking's answer: status, headers and the body's bytes. */
interface Exchanged {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One request and its answer through the pool's dispatch, the answer's chunks kept as they
 * arrive: undici's request() would make a response stream per answer only for us to read it
 * whole (booking's answers are small JSON). Errors (timeouts, refused connections) are undici's own.
 */
function exchange(pool: Dispatcher, options: Dispatcher.DispatchOptions): Promise<Exchanged> {
  return new Promise((resolve, reject) => {
    let statusCode = 0;
    let headers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    pool.dispatch(options, {
      // (undici takes a handler without it for one of its deprecated kind)
      onRequestStart() {},
      onResponseStart(_controller, status, answerHeaders) {
        if (status < 200) return; // an informational answer: the real one follows
        statusCode = status;
        headers = answerHeaders;
      },
      onResponseData(_controller, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        resolve({ statusCode, headers, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks) });
      },
      onResponseError(_controller, err) {
        reject(err);
      },
    });
  });
}
