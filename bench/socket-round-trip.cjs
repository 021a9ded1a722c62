// `node bench/socket-round-trip.cjs`: the floor under every request on this machine. Two node
// processes exchange 1 byte over loopback TCP 20,000 times; prints the wall time and each side's
// CPU per round trip (issue 16: a forwarded request pays this once per socket it crosses).
const net = require("net");
const { fork } = require("child_process");
if (process.argv[2] === "server") {
  net
    .createServer((s) => {
      s.setNoDelay(true);
      s.on("data", (d) => s.write(d));
    })
    .listen(0, "127.0.0.1", function () {
      process.send(this.address().port);
    });
  process.on("message", (m) => {
    if (m === "cpu") {
      const c = process.cpuUsage();
      process.send({ cpu: c.user + c.system });
    }
  });
} else {
  const child = fork(__filename, ["server"]);
  child.once("message", (port) => {
    const s = net.connect(port, "127.0.0.1", () => {
      s.setNoDelay(true);
      const N = 20000;
      let i = 0;
      child.send("cpu");
      child.once("message", ({ cpu: s0 }) => {
        const c0 = process.cpuUsage();
        const t0 = Date.now();
        s.on("data", () => {
          if (++i < N) s.write("x");
          else {
            const c = process.cpuUsage(c0);
            const wall = Date.now() - t0;
            child.send("cpu");
            child.once("message", ({ cpu: s1 }) => {
              console.log(
                `round trips ${N}: wall ${((wall * 1000) / N).toFixed(1)} µs each; client CPU ${((c.user + c.system) / N).toFixed(1)} µs, server CPU ${((s1 - s0) / N).toFixed(1)} µs per round trip`,
              );
              process.exit(0);
            });
          }
        });
        s.write("x");
      });
    });
  });
}
