// Baseline: raw node:http answering a small JSON body.
const http = require("node:http");
const body = JSON.stringify({ result: { hello: "world" }, error: null });
http
  .createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  })
  .listen(Number(process.env.PORT), "127.0.0.1", () => console.log("listening"));
