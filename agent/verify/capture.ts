// Reading a capture for `otsentry verify`: `mosquitto_sub -v` lines (`topic payload`) or JSONL
// (one signal per line), or messages from a live subscription. Signals are collected for
// verify.ts; status and assets messages give each agent's announced public key. A line that is
// not usable is recorded with its number and why, never thrown.
import { keyIdOf, parsePublicKey } from '../signing/keys.js';
import type { RiskSignal } from '../../rules/signal.js';
import type { CapturedSignal, KnownKey } from './verify.js';

export interface BadLine {
  line: number;
  message: string;
}

export interface CaptureStats {
  lines: number;
  signals: number;
  /** status and assets messages */
  announcements: number;
  /** messages on other topics, and blank lines */
  other: number;
}

/** Collects a capture line by line (or message by message). */
export class Capture {
  readonly signals: CapturedSignal[] = [];
  readonly announced = new Map<string, KnownKey[]>();
  readonly badLines: BadLine[] = [];
  readonly stats: CaptureStats = { lines: 0, signals: 0, announcements: 0, other: 0 };

  /** One line of a capture file: `topic payload` or a JSON signal. */
  line(text: string, line: number): void {
    this.stats.lines++;
    const t = text.trim();
    if (t === '') {
      this.stats.other++;
      return;
    }
    if (t.startsWith('{')) {
      this.event(t, line);
      return;
    }
    const space = t.indexOf(' ');
    if (space === -1 && t.includes('/')) {
      // `mosquitto_sub -v` prints a topic alone for an empty message (a cleared retained topic).
      this.stats.other++;
      return;
    }
    if (space === -1) {
      this.bad(line, 'neither a JSON signal nor `topic payload` (capture with `mosquitto_sub -v`, or one signal per line)', t);
      return;
    }
    this.message(t.slice(0, space), t.slice(space + 1), line);
  }

  /** One MQTT message; `line` numbers it in reports. */
  message(topic: string, payload: string, line: number): void {
    const kind = topic.slice(topic.lastIndexOf('/') + 1);
    if (payload === '' || payload === '(null)') {
      this.stats.other++;
      return;
    }
    if (kind === 'events') this.event(payload, line);
    else if (kind === 'status' || kind === 'assets') this.announcement(kind, payload, line);
    else this.stats.other++;
  }

  private event(text: string, line: number): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      this.bad(line, `not JSON (${(e as Error).message})`, text);
      return;
    }
    const why = notASignal(value);
    if (why !== undefined) {
      this.bad(line, `not a risk signal (${why})`, text);
      return;
    }
    this.stats.signals++;
    this.signals.push({ line, signal: value as RiskSignal });
  }

  private announcement(kind: string, text: string, line: number): void {
    this.stats.announcements++;
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      this.bad(line, `${kind} payload is not JSON (${(e as Error).message})`, text);
      return;
    }
    const info = value?.signing_key as { key_id?: unknown; public_key?: unknown } | undefined;
    if (info === undefined || info === null || typeof value.site !== 'string' || typeof value.agent !== 'string') return;
    if (typeof info.public_key !== 'string' || typeof info.key_id !== 'string') {
      this.bad(line, `${kind} signing_key needs key_id and public_key strings`, text);
      return;
    }
    let key;
    try {
      key = parsePublicKey(info.public_key, `line ${line}: ${kind} signing_key.public_key`);
    } catch (e) {
      this.bad(line, (e as Error).message, '');
      return;
    }
    const agent = `${value.site}/${value.agent}`;
    const id = keyIdOf(key);
    if (id !== info.key_id) {
      this.badLines.push({ line, message: `line ${line}: ${kind} of ${agent} announces key_id ${info.key_id}, but its public key's id is ${id}; that key is not used.` });
      return;
    }
    const list = this.announced.get(agent) ?? [];
    if (!list.some((k) => k.key_id === id)) list.push({ key_id: id, key, source: `${kind} message, line ${line}` });
    this.announced.set(agent, list);
  }

  private bad(line: number, why: string, text: string): void {
    const seq = /"seq":\s*(\d+)/.exec(text)?.[1];
    this.badLines.push({ line, message: `line ${line}: ${why}${seq === undefined ? '' : ` (it looks like seq ${seq})`}.` });
  }
}

/** Why a parsed value cannot be a risk signal, or undefined when it has the needed fields. */
function notASignal(v: unknown): string | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'not an object';
  const s = v as Record<string, unknown>;
  if (typeof s.v !== 'number') return 'v missing';
  if (!Number.isSafeInteger(s.seq) || (s.seq as number) < 1) return 'seq is not a whole number of 1 or more';
  for (const f of ['id', 'agent', 'site', 'rule', 'hash', 'prev_hash'] as const) if (typeof s[f] !== 'string') return `${f} missing`;
  return undefined;
}
