// `node bench/passport.mjs [--n 200000]` (after `pnpm build`): the CPU one forwarded request
// spends on its passport, per side: the gateway signs it (body digest + HMAC), booking verifies it
// (body digest + HMAC + JSON + binding). A typical point-charge body and a 16 KiB body (the
// largest booking accepts). One core, no I/O: microseconds per request.
import { bodyDigest, signPassport, verifyPassport } from "../packages/shared/dist/passport.js";

const i = process.argv.indexOf("--n");
const n = i >= 0 ? Number(process.argv[i + 1]) : 200_000;
const secret = "bench-secret-0123456789abcdef";

/** Mean microseconds of `fn` over n calls, after a warm-up. */
function perCall(fn) {
  for (let k = 0; k < 10_000; k++) fn();
  const started = process.cpuUsage();
  for (let k = 0; k < n; k++) fn();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / n;
}

const bodies = {
  "charge (32 B)": JSON.stringify({ userId: 123456, point: 10000 }),
  "16 KiB": JSON.stringify({ userId: 123456, pad: "x".repeat(16 * 1024 - 30) }),
};
const claims = { userId: 123456, queueToken: "1b4e28ba-2fa1-11d2-883f-0016d3cca427", requestId: "7f9c2ba4-e88f-4f3b-a6c1-3d0f5a1e2b9c" };
for (const [name, body] of Object.entries(bodies)) {
  const request = { method: "PATCH", path: "/api/users/point", bodyDigest: bodyDigest(body) };
  const header = signPassport(secret, { ...claims, ...request, exp: Date.now() + 3_600_000, deadline: Date.now() + 10_000 });
  const sign = perCall(() =>
    signPassport(secret, { ...claims, method: "PATCH", path: "/api/users/point", bodyDigest: bodyDigest(body), exp: 1, deadline: 1 }),
  );
  const verify = perCall(() => verifyPassport(secret, header, { method: "PATCH", path: "/api/users/point", bodyDigest: bodyDigest(body) }));
  const digest = perCall(() => bodyDigest(body));
  console.log(
    `${name}: gateway sign ${sign.toFixed(2)} µs, booking verify ${verify.toFixed(2)} µs (of which the body digest ${digest.toFixed(2)} µs each side); header ${header.length} B`,
  );
}
