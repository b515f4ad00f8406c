// Human durations on the command line: 500ms, 10s, 2m, 1h (a bare number means seconds).
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) throw new Error(`'${text}' is not a duration; write e.g. 500ms, 30s, 5m or 1h`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 's']);
}
