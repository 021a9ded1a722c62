// System tests: real gateway and booking processes (`node apps/<app>/dist/main.js`), a fresh
// database and a dedicated redis-server per test file, faults injected through a TCP proxy.
module.exports = {
  ...require("../../jest.preset"),
  displayName: "system",
};
