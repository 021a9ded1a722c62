// Baseline: a bare Express 5 JSON hello-world (the same Express the gateway uses).
const { createRequire } = require("node:module");
const path = require("node:path");
const express = createRequire(path.join(__dirname, "../../apps/gateway/package.json"))("express");
const app = express();
app.get("/", (_req, res) => res.json({ result: { hello: "world" }, error: null }));
app.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("listening"));
