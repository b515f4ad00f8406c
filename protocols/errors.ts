// One error vocabulary for every layer: an operational error (bad input, a missing file, a device
// or broker that fails) carries a stable, low-cardinality `code` that logs, metrics, tests and the
// CLI rely on, the `stage` of the data flow it happened in, and a message written for the person
// who must act, naming the place and the fix. Each part keeps its own codes (ModbusError's are the
// PollErrorCodes, OutboxError's outbox_*); the class and the stages are shared. Anything else
// thrown is a bug: the CLI reports it as unexpected.

/** Where in the data flow (../shared/DESIGN.md) an error happened. */
export type Stage =
  /** config, rules and secret files, certificates to trust */
  | 'config'
  /** reading a device (connect, request, answer) */
  | 'poll'
  /** recordings: writing and reading them back */
  | 'record'
  /** the SQLite outbox, its signing key and control socket */
  | 'outbox'
  /** the broker connection and delivery */
  | 'forward'
  /** checking captured or live signals */
  | 'verify'
  /** approvals of rules under review, the open alerts they touch */
  | 'approve'
  /** the command line itself: arguments, output files, the demo */
  | 'cli'
  /** the bundled PLC simulators (`otsentry simulate`, the demo, tests) */
  | 'simulate'
  /** the receiving end (`otsentry central`): its broker link, keys, store */
  | 'central'
  /** central's SIEM outputs (syslog + CEF) */
  | 'siem';

export class OperationalError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly stage: Stage,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
