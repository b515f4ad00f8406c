// The `verify` and `key` subcommands of the otsentry CLI (agent/cli.ts adds them): check
// captured or live signals, and print the agent's public signing key.
import fs from 'node:fs';
import readline from 'node:readline';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { loadSigningKey, keyIdOf, parsePublicKey, signingKeyFile } from '../signing/keys.js';
import { Capture } from '../verify/capture.js';
import { exitCodeOf, formatText, verifyOutput } from '../verify/report.js';
import { verifySignals, type KnownKey } from '../verify/verify.js';
import { OperationalError } from '../../protocols/errors.js';

export interface VerifyKit {
  /** resolves on SIGINT or SIGTERM */
  untilSignal(): Promise<unknown>;
  /** the CLI's usage error (printed as is, exit code 2) */
  usage(message: string): Error;
  /** a duration flag (500ms, 30s, 5m, 1h) in ms */
  durationArg(v: string): number;
  /** ends the command with this exit code, nothing more printed */
  exit(code: number): Error;
}

function countArg(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`'${v}' is not a whole number of 1 or more`);
  return n;
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

interface VerifyFlags {
  key?: string[];
  broker?: string;
  topic: string;
  duration?: number;
  count?: number;
  username?: string;
  passwordFile?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsInsecure?: boolean;
  firstSeq?: number;
  lastSeq?: number;
  requireSigned?: boolean;
  json?: boolean;
}

/** Read a capture file (or stdin for `-`) line by line; a read error is operational (exit 1). */
async function readCapture(capture: Capture, file: string): Promise<void> {
  const input = file === '-' ? process.stdin : fs.createReadStream(file);
  let n = 0;
  try {
    for await (const text of readline.createInterface({ input, crlfDelay: Infinity })) capture.line(text as string, ++n);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new OperationalError('verify_input', `capture ${file} cannot be read (${err.code ?? err.message}); check the path, or give - for stdin.`, 'verify');
  }
}

function loadKeys(files: readonly string[]): KnownKey[] {
  return files.map((file) => {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new OperationalError('verify_key', `--key ${file} cannot be read (${(e as NodeJS.ErrnoException).code}); give the public key PEM printed by \`otsentry key --config FILE\`.`, 'verify');
    }
    const key = parsePublicKey(text, `--key ${file}`);
    return { key_id: keyIdOf(key), key, source: `--key ${file}` };
  });
}

export function addVerifyCommands(program: Command, kit: VerifyKit): void {
  program
    .command('verify')
    .description('check captured or live risk signals: hashes, chain links, signatures, seq continuity, gaps, duplicates; exit 0 verified, 3 problems found, 1 unreadable input')
    .argument('[capture]', 'capture file: `mosquitto_sub -v` output (topic payload per line) or JSONL (one signal per line); - or omitted: stdin')
    .option('--key <file>', "the agent's public key PEM (`otsentry key --config FILE` prints it; repeatable); default: the keys announced in the capture's status/assets messages", collect)
    .option('--broker <url>', 'subscribe to this broker instead of reading a capture')
    .option('--topic <filter>', 'topic filter to subscribe to', 'otsentry/#')
    .option('--duration <duration>', 'with --broker: stop after this long, e.g. 30s (default: Ctrl-C or --count)', kit.durationArg)
    .option('--count <n>', 'with --broker: stop after this many event messages', countArg)
    .option('--username <name>', 'with --broker: MQTT user name')
    .option('--password-file <file>', 'with --broker: file holding the MQTT password')
    .option('--tls-ca <file>', 'with --broker: CA certificate(s) to trust (PEM)')
    .option('--tls-cert <file>', 'with --broker: client certificate for mutual TLS (PEM)')
    .option('--tls-key <file>', 'with --broker: client private key for mutual TLS (PEM)')
    .option('--tls-insecure', 'with --broker: do not check the broker certificate (testing only)')
    .option('--first-seq <n>', 'every agent must have every seq from this one (default: the first captured)', countArg)
    .option('--last-seq <n>', 'every agent must have every seq up to this one (default: the last captured)', countArg)
    .option('--require-signed', 'count v1 (unsigned) signals as problems')
    .option('--json', 'print the report as one JSON document')
    .action(async (file: string | undefined, o: VerifyFlags) => {
      if (o.broker !== undefined && file !== undefined) throw kit.usage('give either a capture file or --broker, not both.');
      if (o.broker === undefined && (o.duration !== undefined || o.count !== undefined)) throw kit.usage('--duration and --count need --broker.');
      const keys = loadKeys(o.key ?? []);
      const capture = new Capture();
      if (o.broker !== undefined) {
        // mqtt.js is loaded only for a live subscription.
        const { subscribeCapture } = await import('../verify/subscribe.js');
        const lost = await subscribeCapture(capture, {
          url: o.broker,
          topic: o.topic,
          count: o.count,
          durationMs: o.duration,
          username: o.username,
          passwordFile: o.passwordFile,
          caFile: o.tlsCa,
          certFile: o.tlsCert,
          keyFile: o.tlsKey,
          insecure: o.tlsInsecure,
          stop: kit.untilSignal(),
          onSubscribed: () => {
            const until = [o.count === undefined ? undefined : `${o.count} events`, o.duration === undefined ? undefined : `${o.duration / 1000} s`].filter(Boolean).join(' or ');
            process.stderr.write(`otsentry: subscribed to ${o.topic}; capturing until ${until || 'Ctrl-C'}.\n`);
          },
        });
        if (lost) process.stderr.write('otsentry: the broker connection was lost; verifying what arrived until then.\n');
      } else {
        await readCapture(capture, file ?? '-');
      }
      if (capture.signals.length === 0) {
        const why = capture.badLines.length > 0 ? ` (${capture.badLines.length} unreadable line${capture.badLines.length === 1 ? '' : 's'}, first: ${capture.badLines[0]!.message.replace(/\.$/, '')})` : '';
        throw new OperationalError('verify_empty', `no risk signals in the input${why}; capture the events topic, e.g. mosquitto_sub -v -t 'otsentry/#' > capture.txt`, 'verify');
      }
      const report = verifySignals(capture.signals, { keys, announced: capture.announced, requireSigned: o.requireSigned, firstSeq: o.firstSeq, lastSeq: o.lastSeq });
      const out = verifyOutput(report, capture.stats, capture.badLines);
      process.stdout.write(o.json ? JSON.stringify(out, null, 2) + '\n' : formatText(out));
      const code = exitCodeOf(out);
      if (code !== 0) throw kit.exit(code);
    });

  program
    .command('key')
    .description("print the agent's signing key id and public key (PEM; save it for `otsentry verify --key` or the central side)")
    .requiredOption('-c, --config <file>', 'agent config (YAML)')
    .option('--json', 'print {algorithm, key_id, public_key} as JSON')
    .action((o: { config: string; json?: boolean }) => {
      const loaded = loadConfig(o.config, { checkSecrets: false });
      // Read only: the key is made by the agent, which also checks it against its outbox.
      const { info } = loadSigningKey(loaded.dataDir, { create: false, refuseMissing: `It is made at the agent's first start (otsentry run --config ${loaded.file}).` });
      process.stdout.write(o.json ? JSON.stringify({ ...info, file: signingKeyFile(loaded.dataDir) }) + '\n' : `key_id: ${info.key_id}\nalgorithm: ${info.algorithm}\n${info.public_key}`);
    });
}
