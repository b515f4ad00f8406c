// What every protocol hands to the rest of the agent: samples, facts, and the Poller interface.
// A Poller is read-only by construction: it exposes no way to change anything on a device.

export type Quality = 'good' | 'bad' | 'uncertain';

/** One value read from one tag, stamped with the time it was read. */
export interface Sample {
  device: string;
  tag: string;
  value: number | boolean | string | null;
  quality: Quality;
  /** epoch milliseconds when the answer arrived */
  ts: number;
  /** round-trip time of the request that carried this value */
  rtt_ms: number;
  /** why quality is not good (e.g. "float32 value is NaN", "timeout"), when known */
  reason?: string;
}

/** A copy of a sample that outlives its poll cycle (see PollResult.samples). */
export function copySample(s: Sample): Sample {
  const c: Sample = { device: s.device, tag: s.tag, value: s.value, quality: s.quality, ts: s.ts, rtt_ms: s.rtt_ms };
  if (s.reason !== undefined) c.reason = s.reason;
  return c;
}

/**
 * Something learned about a device that is not a tag value.
 * - identity: vendor/product/revision (Modbus FC43) or BuildInfo (OPC UA)
 * - diagnostics: device counters (Modbus FC08 bus messages, exceptions, ...)
 * - posture: security configuration (OPC UA endpoints, certificates, clock)
 * - link: reachability after a poll cycle (up/down, error code, round-trip time)
 */
export type FactKind = 'identity' | 'diagnostics' | 'posture' | 'link';

export interface Fact {
  device: string;
  kind: FactKind;
  ts: number;
  data: Record<string, unknown>;
}

/** Stable, low-cardinality error codes (for logs, metrics and the availability detector). */
export type PollErrorCode =
  | 'timeout'
  | 'connect_refused'
  | 'connection_lost'
  | 'modbus_exception'
  | 'bad_response'
  | 'not_connected'
  | 'aborted'
  /** the agent refused to send a request outside its read-only allow-list (a bug, never the device) */
  | 'request_refused'
  /** OPC UA: the server refused the secure channel or session (certificate trust, policy, login) */
  | 'security'
  /** OPC UA: a Bad status code for a node (unknown NodeId, not readable, access denied, ...) */
  | 'opcua_status'
  | 'unknown';

export interface PollError {
  code: PollErrorCode;
  message: string;
  /** Modbus exception code (1 illegal function, 2 illegal address, ...) when code is modbus_exception */
  exception_code?: number;
  /** the request that failed, for people (e.g. "FC03 holding_register 0..99") */
  request?: string;
  /** the request was answered on a later attempt: the error shows what the device did, not a gap */
  retried?: boolean;
}

export interface PollResult {
  /**
   * Samples of this poll. They belong to the poller and live for one cycle: a poller may refill
   * the same array and the same Sample objects on its next poll() (the Modbus poller does, so a
   * poll allocates no samples). Consume them before the next poll of that poller (the scheduler
   * hands them to its sink synchronously; the judge, the recorder and the learner read them at
   * once); whatever keeps a sample longer keeps a copy (copySample).
   */
  samples: Sample[];
  facts: Fact[];
  /** requests sent during this poll (for budget and benchmark accounting) */
  requests: number;
  /** errors of individual requests; a poll can partly succeed */
  errors: PollError[];
}

export interface Poller {
  readonly device: string;
  /** Open the connection. Rejects with a PollError-like Error when the device cannot be reached. */
  connect(signal?: AbortSignal): Promise<void>;
  /** One poll cycle: read every planned request, decode, return samples (bad quality on failure). */
  poll(signal?: AbortSignal): Promise<PollResult>;
  /** Slow-cadence reads of identity and diagnostics; empty when the device answers none. */
  readFacts(kinds: ReadonlyArray<'identity' | 'diagnostics'>, signal?: AbortSignal): Promise<Fact[]>;
  /** Number of requests one poll() sends (from the request plan). */
  readonly requestsPerPoll: number;
  isConnected(): boolean;
  close(): Promise<void>;
}
