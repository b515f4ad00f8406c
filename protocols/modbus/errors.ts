// Modbus errors with stable codes, and their mapping to the PollError of protocols/types.ts.
import type { PollError, PollErrorCode } from '../types.js';
import { OperationalError } from '../errors.js';

export const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

/** An Error that is also a PollError: what connect() rejects with and what links throw. */
export class ModbusError extends OperationalError implements PollError {
  declare readonly code: PollErrorCode;
  readonly exception_code?: number;
  request?: string;

  constructor(code: PollErrorCode, message: string, exceptionCode?: number) {
    super(code, message, 'poll');
    if (exceptionCode !== undefined) this.exception_code = exceptionCode;
  }

  /** Plain PollError for results (no stack, safe to serialise). */
  toPollError(): PollError {
    const e: PollError = { code: this.code, message: this.message };
    if (this.exception_code !== undefined) e.exception_code = this.exception_code;
    if (this.request !== undefined) e.request = this.request;
    return e;
  }
}

export function exceptionError(fc: number, exceptionCode: number): ModbusError {
  const name = EXCEPTION_NAMES[exceptionCode] ?? 'unknown exception';
  return new ModbusError('modbus_exception', `device answered FC${fc} with exception ${exceptionCode} (${name})`, exceptionCode);
}

/** Any thrown value as a ModbusError (unknown values keep their message). */
export function asModbusError(e: unknown): ModbusError {
  if (e instanceof ModbusError) return e;
  const err = e as { code?: unknown; errno?: unknown; message?: unknown } | null;
  const sys = typeof err?.code === 'string' ? err.code : typeof err?.errno === 'string' ? err.errno : '';
  const msg = typeof err?.message === 'string' ? err.message : String(e);
  return new ModbusError(systemErrorCode(sys), msg || sys || 'unknown error');
}

/** Map a Node system error code (ECONNREFUSED, ...) to a stable PollErrorCode. */
export function systemErrorCode(sys: string): PollErrorCode {
  switch (sys) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EADDRNOTAVAIL':
    case 'ENOENT': // serial port path does not exist
    case 'EACCES':
      return 'connect_refused';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return 'connection_lost';
    case 'ABORT_ERR':
      return 'aborted';
    default:
      return 'unknown';
  }
}

/** Should a failed request be tried again within the same cycle? */
export function isRetryable(e: ModbusError): boolean {
  if (e.code === 'timeout' || e.code === 'bad_response') return true;
  // 5 acknowledge and 6 busy are "ask again later"; other exceptions will not change.
  return e.code === 'modbus_exception' && (e.exception_code === 5 || e.exception_code === 6);
}
