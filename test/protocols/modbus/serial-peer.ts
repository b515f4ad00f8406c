// A serial line for tests: a socat pty pair, and a scriptable RTU slave on one end of it (the
// poller opens the other end as its serial port).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { SerialPort } from 'serialport';
import { rtuAnswer, takeRtu, type PeerRequest } from './peers.js';

/** Why serial tests cannot run here, or null when socat is installed. */
export const ptySkip: string | null = spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0 ? null : 'socat is not installed (apt-get install socat; CI installs it)';

export interface PtyPair {
  /** the agent's end */
  ours: string;
  /** the slave's end */
  theirs: string;
  close(): Promise<void>;
}

/** Start socat with two linked ptys; resolves once socat reports the data transfer loop. */
export function startPtyPair(): Promise<PtyPair> {
  const proc: ChildProcess = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    const paths: string[] = [];
    let text = '';
    let ready = false;
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`socat exited (${code}) before the ptys were ready: ${text}`)));
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => {
      if (ready) return;
      text += chunk;
      for (const m of chunk.matchAll(/PTY is (\S+)/g)) paths.push(m[1]);
      if (/starting data transfer loop/.test(text) && paths.length === 2) {
        ready = true;
        proc.removeAllListeners('exit');
        resolve({
          ours: paths[0],
          theirs: paths[1],
          close: () =>
            new Promise<void>((done) => {
              if (proc.exitCode !== null) return done();
              proc.once('exit', () => done());
              proc.kill('SIGTERM');
            }),
        });
      }
    });
  });
}

export interface SerialPeer {
  requests: PeerRequest[];
  close(): Promise<void>;
}

/**
 * An RTU slave on a serial device: answers each request with handler's PDU after delayMs(req)
 * (null = stay silent). Requests are parsed as the poller sends them (8 bytes, FC43 7).
 */
export async function startSerialPeer(
  path: string,
  handler: (req: PeerRequest) => Buffer | null,
  delayMs: (req: PeerRequest) => number = () => 0,
): Promise<SerialPeer> {
  const port = new SerialPort({ path, baudRate: 19200, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  const t0 = performance.now();
  const peer: SerialPeer = {
    requests: [],
    close: () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
  };
  let rx = Buffer.alloc(0);
  port.on('error', () => undefined);
  port.on('data', (chunk: Buffer) => {
    rx = Buffer.concat([rx, chunk]);
    for (let taken = takeRtu(rx); taken; taken = takeRtu(rx)) {
      rx = rx.subarray(taken.used);
      const req: PeerRequest = { ...taken.req, at: performance.now() - t0 };
      peer.requests.push(req);
      const answer = handler(req);
      if (!answer) continue;
      const frame = rtuAnswer(req.unit, answer);
      const delay = delayMs(req);
      if (delay > 0) setTimeout(() => port.isOpen && port.write(frame), delay);
      else port.write(frame);
    }
  });
  return peer;
}
