// Message templates: "{tag} = {observed}" rendered only when a finding is emitted (never per sample).
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Render a template; unknown placeholders stay as written (validation reports them earlier). */
export function render(template: string, vars: Readonly<Record<string, unknown>>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => (name in vars ? formatValue(vars[name]) : whole));
}

/** Placeholder names used by a template, for validation. */
export function placeholders(template: string): string[] {
  const out: string[] = [];
  for (const m of template.matchAll(PLACEHOLDER)) out.push(m[1]);
  return out;
}

/** Human form of a value: short numbers, lists joined, objects as k=v pairs. */
export function formatValue(v: unknown): string {
  if (v === undefined || v === null) return '-';
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(formatValue).join(', ');
  if (typeof v === 'object') {
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}=${formatValue(x)}`)
      .join(', ');
  }
  return String(v);
}

/** Six significant digits at most, so a float32 3.2000000476837 reads 3.2. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return n > 0 ? '+inf' : n < 0 ? '-inf' : 'NaN';
  if (Number.isInteger(n)) return String(n);
  return String(Number.parseFloat(n.toPrecision(6)));
}

/** Round a float for JSON output (float32 noise removed), keeping integers exact. */
export function roundValue(v: unknown): unknown {
  if (typeof v === 'number' && Number.isFinite(v) && !Number.isInteger(v)) return Number.parseFloat(v.toPrecision(7));
  return v;
}
