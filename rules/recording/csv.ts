// CSV details of recordings: splitting one line (quotes, "" escapes; `,` `;` or tab), reading a
// cell as a tag value, and parsing timestamps (ISO 8601, epoch seconds/ms, or a day-first pattern).
import { parse } from 'csv-parse/sync';

/** Split one CSV line (csv-parse: quotes, "" escapes). Throws Error('...') for a malformed line; the caller adds the line number. */
export function splitCsvLine(line: string, delim: string): string[] {
  if (!line.includes('"')) return line.split(delim);
  try {
    return (parse(line, { delimiter: delim, relax_column_count: true, relax_quotes: true, trim: true }) as string[][])[0] ?? [''];
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'CSV_QUOTE_NOT_CLOSED') throw new Error('unclosed quote (a quoted cell must end on the same line)');
    throw new Error(`malformed CSV (${(e as Error).message})`);
  }
}

/** The delimiter a header line uses: tab, semicolon or comma (whichever splits it most). */
export function detectDelimiter(header: string): string {
  const count = (d: string) => header.split(d).length;
  const best = ['\t', ';', ','].reduce((a, b) => (count(b) > count(a) ? b : a), ',');
  return count(best) > 1 ? best : ',';
}

/** A cell as a tag value: number, boolean, or undefined when empty / '?' / NaN / null. Throws for text. */
export function cellValue(text: string): number | boolean | undefined {
  const s = text.trim();
  if (s === '' || s === '?' || s === 'NaN' || s === 'nan' || s === 'null' || s === 'NA') return undefined;
  const lower = s.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  const n = Number(s);
  if (!Number.isFinite(n)) throw new Error(`'${s.length > 40 ? `${s.slice(0, 40)}...` : s}' is not a number; use numbers or true/false, or leave the cell empty`);
  return n;
}

export const TIME_FORMAT_HINT = "use --time-format iso, epoch_s, epoch_ms or a pattern such as 'DD/MM/YY hh' or 'YYYY-MM-DD hh:mm:ss' (times without a zone are UTC)";

export type TimeParser = (text: string) => number;

const TOKENS: Record<string, { re: string; field: 'Y' | 'y' | 'M' | 'D' | 'h' | 'm' | 's' | 'f' }> = {
  YYYY: { re: '(\\d{4})', field: 'Y' },
  YY: { re: '(\\d{2})', field: 'y' },
  MM: { re: '(\\d{1,2})', field: 'M' },
  DD: { re: '(\\d{1,2})', field: 'D' },
  hh: { re: '(\\d{1,2})', field: 'h' },
  mm: { re: '(\\d{1,2})', field: 'm' },
  ss: { re: '(\\d{1,2})', field: 's' },
  sss: { re: '(\\d{1,6})', field: 'f' },
};

/** A parser for a pattern of YYYY YY MM DD hh mm ss sss and literal characters (UTC). */
export function patternParser(pattern: string): TimeParser {
  const fields: string[] = [];
  let re = '^\\s*';
  const tokenRe = /YYYY|YY|MM|DD|hh|mm|sss|ss/y;
  for (let i = 0; i < pattern.length; ) {
    tokenRe.lastIndex = i;
    const m = tokenRe.exec(pattern);
    if (m) {
      re += TOKENS[m[0]].re;
      fields.push(TOKENS[m[0]].field);
      i += m[0].length;
    } else {
      re += pattern[i].replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      i++;
    }
  }
  if (!fields.includes('D') || !fields.includes('M') || !(fields.includes('Y') || fields.includes('y'))) {
    throw new Error(`time format '${pattern}' needs DD, MM and YY or YYYY; ${TIME_FORMAT_HINT}`);
  }
  const rx = new RegExp(`${re}\\s*$`);
  return (text) => {
    const m = rx.exec(text);
    if (!m) return NaN;
    const f: Record<string, number> = { Y: 0, M: 1, D: 1, h: 0, m: 0, s: 0, f: 0 };
    fields.forEach((k, i) => {
      const s = m[i + 1];
      if (k === 'y') f.Y = 2000 + Number(s);
      else if (k === 'f') f.f = Number(`0.${s}`) * 1000;
      else f[k] = Number(s);
    });
    if (f.M < 1 || f.M > 12 || f.D < 1 || f.D > 31 || f.h > 23 || f.m > 59 || f.s > 60) return NaN;
    return Date.UTC(f.Y, f.M - 1, f.D, f.h, f.m, f.s) + Math.round(f.f);
  };
}

const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** ISO 8601 (a space instead of T is fine); no zone means UTC. */
export function parseIso(text: string): number {
  const s = text.trim();
  const m = ISO.exec(s);
  if (!m) return NaN;
  return Date.parse(m[4] ? s.replace(' ', 'T') : `${s.replace(' ', 'T')}${m[1] ? '' : 'T00:00'}Z`);
}

/** Epoch seconds (below 1e11) or milliseconds. */
export function parseEpoch(text: string): number {
  const n = Number(text.trim());
  if (!Number.isFinite(n) || text.trim() === '') return NaN;
  return n < 1e11 ? Math.round(n * 1000) : Math.round(n);
}

/** The parser for a --time-format value, or one guessed from the first time cell. */
export function timeParser(format: string | undefined, sample: string): TimeParser {
  const f = format?.trim();
  if (f === 'iso') return parseIso;
  if (f === 'epoch_s') return (t) => (Number.isFinite(Number(t)) && t.trim() !== '' ? Math.round(Number(t) * 1000) : NaN);
  if (f === 'epoch_ms') return (t) => (Number.isFinite(Number(t)) && t.trim() !== '' ? Math.round(Number(t)) : NaN);
  if (f) return patternParser(f);
  if (!Number.isNaN(parseEpoch(sample))) return parseEpoch;
  if (!Number.isNaN(parseIso(sample))) return parseIso;
  throw new Error(`cannot tell the time format of '${sample.trim()}'; ${TIME_FORMAT_HINT}`);
}

/** Header names that mark the timestamp column, when --time-column is not given. */
export const TIME_COLUMN_NAMES = ['ts', 'time', 'timestamp', 'datetime', 'date_time', 'date', 'epoch', 'time_ms'];
