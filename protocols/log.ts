// Structured logging (pino). One root logger per process; a child per device or stage.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env.OTSENTRY_LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'otsentry' },
      // Secrets never reach the log, even if someone logs a whole config object.
      redact: { paths: ['*.password', '*.passphrase', '*.key', 'password', 'broker.password', 'tls.key_passphrase'], censor: '[redacted]' },
    },
    destination ?? pino.destination(2),
  );
}

/** A logger that writes nothing (tests, benchmarks). */
export const silentLogger: Logger = pino({ level: 'silent' });
