// Durations in the simulator config and flags: a number of seconds, or text like 500ms, 10s, 2m, 1h
// (the agent's own duration syntax).
import { parseDuration as parseDurationText } from '../../protocols/duration.js';

/** Milliseconds, or null when the value is not a duration. */
export function parseDuration(v: string | number): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : null;
  try {
    return parseDurationText(v);
  } catch {
    return null;
  }
}

export const DURATION_HINT = 'use a number of seconds or e.g. 500ms, 10s, 2m, 1h';
