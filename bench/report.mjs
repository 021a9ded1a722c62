// The benchmark's outputs: a markdown table, docs/BENCHMARKS.md and the rank-poll SVG chart.
import { existsSync, readFileSync } from "node:fs";
import { DEFAULT_DATABASE_URL } from "../packages/shared/dist/defaults.js";

/** Hand-kept records (profiles, before/after runs of an issue) that every regenerated BENCHMARKS.md keeps. */
const RECORDS = [new URL("./issue-16.md", import.meta.url)];
const records = () =>
  RECORDS.filter((u) => existsSync(u))
    .map((u) => readFileSync(u, "utf8").trim())
    .join("\n\n");

const num = (v, d = 0) =>
  v === undefined || v === null || Number.isNaN(v)
    ? ""
    : Number(v).toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
const ms = (v) => (v === undefined || v === null || Number.isNaN(v) ? "" : v < 10 ? v.toFixed(2) : v.toFixed(1));
const cell = (s) =>
  String(s ?? "")
    .replace(/\|/g, "\\|")
    .replace(/\n/g, " ");

export function renderTable(results) {
  const lines = [
    "| # | measurement | throughput | p50 ms | p99 ms | CPU µs/req | result | target | met | what limits it |",
    "| --- | --- | ---: | ---: | ---: | ---: | --- | --- | :---: | --- |",
  ];
  for (const r of results) {
    if (r.error) {
      lines.push(`| ${r.id} | ${cell(r.title)} | | | | | FAILED: ${cell(r.error)} | | ✗ | |`);
      continue;
    }
    for (const row of r.rows) {
      const tput = row.throughput ?? (row.rps ? `${num(row.rps)} req/s` : "");
      const cpu = row.cpuUs ? `${num(row.cpuUs)}${row.cpuDetail ? ` (${row.cpuDetail})` : ""}` : "";
      const met = row.met === true ? "✓" : row.met === false ? "✗" : "";
      lines.push(
        `| ${r.id} | ${cell(row.name)} | ${cell(tput)} | ${ms(row.p50)} | ${ms(row.p99)} | ${cell(cpu)} | ${cell(row.result)} | ${cell(row.target)} | ${met} | ${cell(row.limits ?? "")} |`,
      );
    }
  }
  return lines.join("\n");
}

export function renderMarkdown({ results, machine, quick, totalSec, table, chart }) {
  const notes = results.flatMap((r) => (r.notes ?? []).map((n) => `- **${r.id}.** ${n}`));
  return `# Benchmarks

Latest ${quick ? "**quick** (`pnpm bench --quick`, smaller sizes and durations)" : "full"} run of \`pnpm bench\` (\`bench/run.mjs\`), ${machine.date.slice(0, 10)}.
Every scenario runs in one process against processes it starts on loopback: its own \`redis-server\`
on a spare port, a fresh Postgres database (migrated, seeded, dropped at the end) and the built apps
(\`node apps/<app>/dist/main.js\`, \`LOG_LEVEL=info\` as deployed). CPU time per request is read from
\`/proc/<pid>/stat\` of the app process(es) named in the column, which is steadier than wall time on
this shared machine. Ratios are measured side by side in the same run.

## Machine

| | |
| --- | --- |
| CPUs (\`nproc\`) | ${machine.nproc} |
| CPU model | ${machine.cpuModel} |
| memory | ${machine.memoryGiB} GiB |
| kernel | ${machine.kernel} |
| Node.js | ${machine.node} |
| Redis | ${machine.redis} |
| PostgreSQL | ${machine.postgres} |
| load average at the end (1/5/15 min) | ${machine.loadavg} |
| date | ${machine.date} |
| run time | ${totalSec.toFixed(0)} s |

## Results

${table}

${chart ? "![rank-poll latency against queue size](rank-poll-latency.svg)\n" : ""}
## How each scenario is measured

${notes.join("\n")}

${records()}

## Running it

\`\`\`sh
pnpm bench          # builds, runs all nine scenarios (~7 minutes here), rewrites docs/BENCHMARKS.md and docs/rank-poll-latency.svg
pnpm bench --quick  # the same scenarios, smaller and shorter (< 2 minutes); writes bench/out/ instead
node bench/run.mjs --only=2,3 --quick   # some scenarios only (after pnpm build)
\`\`\`

It needs what \`pnpm test\` needs (Postgres at \`DATABASE_URL\`, default
\`${DEFAULT_DATABASE_URL}\`, and a \`redis-server\` binary on the PATH; it
starts its own Redis and does not touch the one on :6379). Run the full benchmark on a quiet
machine (1-minute load below 1): the client, the apps, Redis and Postgres share the same cores.
`;
}

/** Line chart of rank-poll p50/p99 (log x: queue size) written by hand. */
export function renderSvg(c) {
  const W = 640;
  const H = 360;
  const m = { l: 64, r: 150, t: 44, b: 56 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const lx = c.sizes.map((s) => Math.log10(s));
  const x0 = Math.min(...lx);
  const x1 = Math.max(...lx);
  const series = [
    { name: "p99 (HTTP)", values: c.p99, color: "#d62728", dash: "" },
    { name: "p50 (HTTP)", values: c.p50, color: "#1f77b4", dash: "" },
    { name: "p50 Redis side", values: c.directP50, color: "#2ca02c", dash: "5,4" },
  ];
  // log y: p99 (tens of ms) and the Redis side (tenths of ms) on one chart
  const all = series.flatMap((s) => s.values).filter((v) => v > 0);
  const e0 = Math.floor(Math.log10(Math.min(...all)));
  const e1 = Math.ceil(Math.log10(Math.max(...all)));
  const X = (i) => m.l + ((lx[i] - x0) / (x1 - x0 || 1)) * pw;
  const Y = (v) => m.t + ph - ((Math.log10(Math.max(v, 10 ** e0)) - e0) / (e1 - e0 || 1)) * ph;
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(
    `<text x="${m.l}" y="22" font-size="15" font-weight="bold">Rank-poll latency vs queue size${c.quick ? " (quick run)" : ""}</text>`,
  );
  for (let e = e0; e <= e1; e++) {
    for (const f of [1, 2, 5]) {
      const v = f * 10 ** e;
      if (e === e1 && f > 1) break;
      const y = Y(v).toFixed(1);
      out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y}" y2="${y}" stroke="${f === 1 ? "#d0d0d0" : "#eeeeee"}"/>`);
      out.push(
        `<text x="${m.l - 8}" y="${y}" text-anchor="end" dominant-baseline="middle"${f === 1 ? "" : ' fill="#888" font-size="10"'}>${+v.toPrecision(3)}</text>`,
      );
    }
  }
  out.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + ph}" stroke="#333"/>`);
  out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${m.t + ph}" y2="${m.t + ph}" stroke="#333"/>`);
  c.sizes.forEach((s, i) => {
    const x = X(i).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${m.t + ph}" y2="${m.t + ph + 5}" stroke="#333"/>`);
    out.push(`<text x="${x}" y="${m.t + ph + 20}" text-anchor="middle">${label(s)}</text>`);
  });
  out.push(`<text x="${m.l + pw / 2}" y="${H - 12}" text-anchor="middle">waiting tokens in the queue (log scale)</text>`);
  out.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">latency, ms (log scale)</text>`);
  series.forEach((s, k) => {
    const pts = s.values.map((v, i) => `${X(i).toFixed(1)},${Y(v).toFixed(1)}`).join(" ");
    out.push(
      `<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>`,
    );
    s.values.forEach((v, i) => {
      out.push(
        `<circle cx="${X(i).toFixed(1)}" cy="${Y(v).toFixed(1)}" r="4" fill="${s.color}"><title>${s.name} at ${label(c.sizes[i])}: ${v.toFixed(3)} ms</title></circle>`,
      );
      // the last point's label goes left of it, clear of the legend
      const last = i === s.values.length - 1;
      const tx = (last ? X(i) - 6 : X(i) + 6).toFixed(1);
      out.push(
        `<text x="${tx}" y="${(Y(v) - 7).toFixed(1)}"${last ? ' text-anchor="end"' : ""} fill="${s.color}" font-size="11">${v.toFixed(3)}</text>`,
      );
    });
    const ly = m.t + 10 + k * 22;
    out.push(
      `<line x1="${m.l + pw + 16}" x2="${m.l + pw + 40}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>`,
    );
    out.push(`<text x="${m.l + pw + 46}" y="${ly}" dominant-baseline="middle">${s.name}</text>`);
  });
  out.push(`<text x="${m.l + pw + 16}" y="${m.t + 86}" font-size="10" fill="#555">HTTP: 1 gateway per queue,</text>`);
  out.push(`<text x="${m.l + pw + 16}" y="${m.t + 100}" font-size="10" fill="#555">${c.concurrency} connections, medians</text>`);
  out.push(`<text x="${m.l + pw + 16}" y="${m.t + 114}" font-size="10" fill="#555">Redis side: poll script</text>`);
  out.push(`<text x="${m.l + pw + 16}" y="${m.t + 128}" font-size="10" fill="#555">called directly, sequential</text>`);
  out.push("</svg>");
  return out.join("\n") + "\n";
}

function label(n) {
  return n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : String(n);
}
