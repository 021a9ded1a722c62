// How the page writes points, dates, waits and the countdown.

export const fmtPoints = (n: number) => `${n.toLocaleString("en-US")} points`;

export const fmtDate = (iso: string) =>
  new Date(iso).toLocaleString("en-GB", {
    weekday: "short",
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });

export function fmtWait(sec: number | null): string {
  if (sec === null) return "–";
  if (sec < 60) return `about ${Math.max(1, sec)} s`;
  const min = Math.ceil(sec / 60);
  return min < 120 ? `about ${min} min` : `about ${Math.round(min / 60)} h`;
}

/** m:ss, never below 0:00 */
export const fmtClock = (ms: number) => {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};
