// A small line chart as inline SVG: no chart library, just a polyline over the window.

const W = 300;
const H = 80;
const NS = "http://www.w3.org/2000/svg";

export interface Series {
  title: string;
  /** [time ms, value] oldest first; null values are gaps */
  points: [number, number | null][];
  from: number;
  to: number;
}

/** Draws (or redraws) `series` into `host`: the line, the last value, and a text alternative. */
export function drawChart(host: HTMLElement, series: Series): void {
  const known = series.points.filter((p): p is [number, number] => p[1] !== null);
  const max = Math.max(1, ...known.map((p) => p[1]));
  const x = (t: number) => ((t - series.from) / Math.max(1, series.to - series.from)) * W;
  const y = (v: number) => H - 4 - (v / max) * (H - 8);
  const last = known.at(-1)?.[1];

  let svg = host.querySelector("svg");
  if (!svg) {
    svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    const line = document.createElementNS(NS, "polyline");
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", "currentColor");
    line.setAttribute("stroke-width", "2");
    line.setAttribute("vector-effect", "non-scaling-stroke");
    const dot = document.createElementNS(NS, "circle");
    dot.setAttribute("r", "3");
    dot.setAttribute("fill", "currentColor");
    svg.append(line, dot);
    host.appendChild(svg);
  }
  const dot = svg.querySelector("circle")!;
  const lastPoint = known.at(-1);
  dot.style.display = lastPoint ? "" : "none";
  if (lastPoint) {
    dot.setAttribute("cx", x(lastPoint[0]).toFixed(1));
    dot.setAttribute("cy", y(lastPoint[1]).toFixed(1));
  }
  svg.querySelector("polyline")!.setAttribute("points", known.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" "));
  const summary =
    known.length === 0
      ? `${series.title}: no samples yet`
      : `${series.title}: now ${last}, highest ${max} over the last ${Math.round((series.to - series.from) / 60_000)} minutes`;
  svg.setAttribute("aria-label", summary);
  host.dataset.points = String(known.length);
  host.dataset.last = last === undefined ? "" : String(last);
}
