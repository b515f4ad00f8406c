// The link to one Modbus device: open, exchange one read request PDU for its response PDU, close.
// Implementations: stream-link.ts (native: Modbus TCP, RTU over TCP, RTU over a serial port),
// modbus-serial-link.ts (Modbus TCP through the modbus-serial library).

export interface ModbusLink {
  /** "tcp host:port", "rtu /dev/ttyUSB0", ... for logs and errors */
  readonly describe: string;
  isOpen(): boolean;
  /** Open the connection; idempotent. Rejects with ModbusError (connect_refused, timeout, aborted). */
  open(signal?: AbortSignal): Promise<void>;
  /**
   * Send one request PDU (function code first) and resolve with the checked response PDU.
   * One exchange at a time: the caller waits for the answer before the next. Rejects with
   * ModbusError: timeout, modbus_exception, bad_response, connection_lost, not_connected, and
   * request_refused (before a byte is written) for a PDU outside the allow-list (allowlist.ts).
   * The returned buffer may be a view of the receive buffer, which the next read of the socket
   * overwrites: decode it at once, before control returns to the event loop.
   */
  exchange(pdu: Buffer): Promise<Buffer>;
  /**
   * Give up waiting for the pending exchange (it rejects with code aborted). A late answer is
   * recognised and dropped. Links that cannot tell a late answer apart let the exchange run to
   * its timeout instead.
   */
  abort(): void;
  /** Close; idempotent. A pending exchange is rejected. */
  close(): Promise<void>;
  /** Called once when an open connection goes away without close(). */
  onLost?: (err: Error) => void;
}

export interface LinkOptions {
  unitId: number;
  /** answer timeout per request, and connect timeout */
  timeoutMs: number;
}
