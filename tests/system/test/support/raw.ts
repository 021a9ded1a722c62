import { connect } from "node:net";

/** Sends bytes as they are (for requests no HTTP client would send) and parses the answer. */
export function rawHttp(
  port: number,
  request: string | Buffer,
  timeoutMs = 5000,
): Promise<{ status: number; headers: string; body: any; text: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let data = "";
    const done = () => {
      socket.destroy();
      const [head, ...rest] = data.split("\r\n\r\n");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      let text = rest.join("\r\n\r\n");
      if (/transfer-encoding: chunked/i.test(head))
        text = text
          .replace(/^[0-9a-f]+\r\n/im, "")
          .replace(/\r\n0\r\n\r\n$/, "")
          .replace(/\r\n[0-9a-f]+\r\n/gi, "");
      let body: any = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      resolve({ status, headers: head, body, text });
    };
    socket.setTimeout(timeoutMs, done);
    socket.on("data", (d) => {
      data += d.toString("latin1");
      const m = /content-length: (\d+)/i.exec(data);
      const split = data.indexOf("\r\n\r\n");
      if (m && split >= 0 && data.length - split - 4 >= Number(m[1])) done();
    });
    socket.on("end", done);
    socket.on("error", done);
    socket.write(request);
  });
}
