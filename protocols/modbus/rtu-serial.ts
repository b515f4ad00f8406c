// Opening a serial port (the serialport package) for the native link (stream-link.ts): Modbus RTU
// over RS-485/RS-232, the same framing, allow-list and late-answer handling as RTU over TCP, plus
// a flush of the port's input buffer before each request.
import { watchAbort } from './abort.js';
import { ModbusError, asModbusError } from './errors.js';
import type { LinkOptions } from './link.js';
import { StreamLink, type OpenStream } from './stream-link.js';

export interface SerialLineOptions {
  path: string;
  baudRate: number;
  dataBits: 7 | 8;
  stopBits: 1 | 2;
  parity: 'none' | 'even' | 'odd';
}

export function rtuSerialLink(line: SerialLineOptions, opts: LinkOptions): StreamLink {
  return new StreamLink({ ...opts, framing: 'rtu', describe: `rtu ${line.path}`, openStream: (signal) => openSerial(line, opts.timeoutMs, signal) });
}

async function openSerial(line: SerialLineOptions, timeoutMs: number, signal?: AbortSignal): Promise<OpenStream> {
  const where = `serial port ${line.path}`;
  if (signal?.aborted) throw new ModbusError('aborted', `opening ${where} was aborted`);
  // Loaded on first use: only agents with a serial device pay for the native binding.
  const { SerialPort } = await import('serialport');
  const port = new SerialPort({ path: line.path, baudRate: line.baudRate, dataBits: line.dataBits, stopBits: line.stopBits, parity: line.parity, autoOpen: false });
  port.on('error', () => undefined); // errors are reported through open() and 'close'
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (err?: ModbusError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unwatch();
      if (!err) return resolve();
      if (port.isOpen) port.close(() => undefined);
      reject(err);
    };
    const timer = setTimeout(() => finish(new ModbusError('timeout', `${where} did not open within ${timeoutMs} ms`)), timeoutMs);
    const unwatch = watchAbort(signal, () => finish(new ModbusError('aborted', `opening ${where} was aborted`)));
    port.open((e) => {
      if (!e) return settled ? port.close(() => undefined) : finish();
      const err = asModbusError(e);
      finish(new ModbusError(err.code === 'unknown' ? 'connect_refused' : err.code, `cannot open ${where}: ${err.message}`));
    });
  });
  return {
    stream: port,
    flushInput: () => new Promise<void>((resolve, reject) => port.flush((e) => (e ? reject(e) : resolve()))),
    drop: () => {
      if (port.isOpen && !port.closing) port.close(() => undefined);
      else if (!port.closing) port.destroy(); // already closed: still emit 'close'
    },
  };
}
