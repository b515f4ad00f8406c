// The fault suite's own capture check is not vacuous: on real sealed events it counts resends as
// duplicates and catches a lost, a reordered and an edited event.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SqliteOutbox } from '../../agent/outbox/index.js';
import { checkCapture } from '../../bench/soak/faults/capture.js';
import { drafts, roomyLimits, tempDir } from '../outbox/drafts.js';

const TOPIC = 'otsentry/lab/gw-1/events';
let lines: string[];
let dir: string;

beforeAll(() => {
  const box = SqliteOutbox.open({ file: ':memory:', agent: 'gw-1', site: 'lab', limits: roomyLimits });
  box.append(drafts(10));
  lines = box.pending(100).map((e) => `${TOPIC} ${e.payload}`);
  box.close();
  dir = tempDir('faults-capture');
});

async function check(name: string, ls: string[], lastSeq = 10) {
  const file = path.join(dir, `${name}.txt`);
  fs.writeFileSync(file, [`otsentry/lab/gw-1/status {"online":true}`, ...ls].join('\n') + '\n');
  return checkCapture(file, lastSeq);
}

describe('capture check', () => {
  it('accepts every seq once, in order, and counts resends as duplicates', async () => {
    const c = await check('resend', [...lines.slice(0, 6), ...lines.slice(4)]);
    expect(c).toMatchObject({ ok: true, messages: 12, unique: 10, duplicates: 2, lost: 0, reordered: 0, chain: [] });
  });

  it('finds a lost event', async () => {
    const c = await check('lost', lines.filter((_, i) => i !== 3));
    expect(c).toMatchObject({ ok: false, lost: 1 });
  });

  it('finds a lost tail against the last committed seq', async () => {
    const c = await check('tail', lines, 12);
    expect(c).toMatchObject({ ok: false, lost: 2 });
  });

  it('finds a reordered event', async () => {
    const swapped = [...lines];
    [swapped[4], swapped[5]] = [swapped[5], swapped[4]];
    const c = await check('reordered', swapped);
    expect(c).toMatchObject({ ok: false, reordered: 1, lost: 0 });
  });

  it('finds an edited event and a forged resend', async () => {
    const edited = lines.map((l, i) => (i === 2 ? l.replace('out of range', 'in range') : l));
    expect((await check('edited', edited)).chain).toEqual(['seq 3: hash does not match the content (event modified).']);
    const forged = [...lines, lines[7].replace('out of range', 'in range')];
    expect(await check('forged', forged)).toMatchObject({ ok: false, conflicting: 1 });
  });
});
