// A TCP proxy the system tests control, run as its own process so that proxying every Postgres
// and Redis byte of four apps does not compete with the test's load generator for one event loop.
//
//   node tcp-proxy.js <targetHost> <targetPort>      prints {"port":N} once listening
//
// Commands arrive over IPC ({ id, cmd, ms }), each answered with { id, stats }:
//   cut       drop every open connection (RST) and reset new ones until restore
//   slow ms   delay every chunk in both directions by ms (order kept)
//   restore   pass traffic again; the apps must reconnect by themselves
//   stats     counts only
"use strict";
const net = require("node:net");

const [targetHost, targetPort] = [process.argv[2], Number(process.argv[3])];
let mode = { kind: "pass", ms: 0 };
const pairs = new Set();
const stats = { accepted: 0, refused: 0, dropped: 0, open: 0 };

function pipe(from, to) {
  // chunks still delayed by slow go out first, so switching modes never reorders a stream
  const queue = [];
  let timer = null;
  const drain = () => {
    timer = null;
    const now = Date.now();
    while (queue.length && queue[0].due <= now) {
      const { chunk } = queue.shift();
      if (!to.destroyed) to.write(chunk);
    }
    if (queue.length) timer = setTimeout(drain, queue[0].due - now);
  };
  from.on("data", (chunk) => {
    if (mode.kind === "pass" && queue.length === 0) {
      if (!to.destroyed) to.write(chunk);
      return;
    }
    const now = Date.now();
    const last = queue.length ? queue[queue.length - 1].due : 0;
    queue.push({ due: Math.max(mode.kind === "slow" ? now + mode.ms : now, last), chunk });
    if (!timer) timer = setTimeout(drain, Math.max(0, queue[0].due - now));
  });
}

const server = net.createServer((client) => {
  client.setNoDelay(true);
  if (mode.kind === "cut") {
    stats.refused++;
    client.on("error", () => {});
    client.resetAndDestroy();
    return;
  }
  stats.accepted++;
  const upstream = net.createConnection({ host: targetHost, port: targetPort });
  upstream.setNoDelay(true);
  const pair = [client, upstream];
  pairs.add(pair);
  const close = () => {
    pairs.delete(pair);
    client.destroy();
    upstream.destroy();
  };
  client.on("error", close).on("close", close);
  upstream.on("error", close).on("close", close);
  pipe(client, upstream);
  pipe(upstream, client);
});

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});

process.on("message", (m) => {
  if (m.cmd === "cut") {
    mode = { kind: "cut", ms: 0 };
    for (const [a, b] of pairs) {
      stats.dropped++;
      a.resetAndDestroy();
      b.destroy();
    }
    pairs.clear();
  } else if (m.cmd === "slow") {
    mode = { kind: "slow", ms: m.ms };
  } else if (m.cmd === "restore") {
    mode = { kind: "pass", ms: 0 };
  }
  stats.open = pairs.size;
  process.send({ id: m.id, stats });
});
// the test process went away: so do we
process.on("disconnect", () => process.exit(0));
