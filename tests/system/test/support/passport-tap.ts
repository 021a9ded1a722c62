import { createServer, request, type Server } from "node:http";
import { PASSPORT_HEADER } from "@concert/shared";
import { listenLoopback } from "@concert/test-support";

export interface TappedRequest {
  method: string;
  path: string;
  passport: string;
}

export interface PassportTap {
  url: string;
  /** every request that went through, with the passport the gateway sent */
  seen: TappedRequest[];
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of one booking that passes everything on unchanged and records the
 * passport of every request: what someone on the network between a gateway and booking reads.
 */
export async function startPassportTap(bookingUrl: string): Promise<PassportTap> {
  const target = new URL(bookingUrl);
  const seen: TappedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const passport = req.headers[PASSPORT_HEADER];
    if (typeof passport === "string") seen.push({ method: req.method ?? "", path: req.url ?? "", passport });
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  return { ...(await listenLoopback(server)), seen };
}
