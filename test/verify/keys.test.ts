// The agent's signing key in data_dir: made once with mode 0600, reloaded unchanged, refused when
// others can read it, corrupt or missing for a signed outbox, and never silently replaced.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openOutbox, outboxFile } from '../../agent/outbox/index.js';
import { loadSigningKey, signingKeyFile, SigningKeyError, verifySignature } from '../../agent/signing/keys.js';
import { createPublicKey } from 'node:crypto';
import { drafts, roomyLimits, tempDir } from '../outbox/drafts.js';

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected an error');
}

describe('loadSigningKey', () => {
  it('makes a key at first start with mode 0600 and loads the same key afterwards', () => {
    const dir = path.join(tempDir(), 'data');
    const made = loadSigningKey(dir, { create: true });
    const file = signingKeyFile(dir);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.readFileSync(file, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(made.keyId).toMatch(/^[0-9a-f]{16}$/);
    const again = loadSigningKey(dir, { create: true });
    expect(again.keyId).toBe(made.keyId);
    expect(again.info).toEqual({ algorithm: 'Ed25519', key_id: made.keyId, public_key: made.info.public_key });
    const hash = 'a'.repeat(64);
    expect(verifySignature(hash, again.sign(hash), createPublicKey(made.info.public_key))).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['signing_key.pem']);
  });

  it('refuses a key file group/others can read, naming the file and the chmod', () => {
    const dir = tempDir();
    loadSigningKey(dir, { create: true });
    const file = signingKeyFile(dir);
    fs.chmodSync(file, 0o644);
    const e = thrown(() => loadSigningKey(dir, { create: true }));
    expect(e).toBeInstanceOf(SigningKeyError);
    expect(e.code).toBe('signing_key_permissions');
    expect(e.message).toContain(`signing key: secret file ${file} can be accessed by group and others (mode 644)`);
    expect(e.message).toContain(`chmod 600 ${file}`);
  });

  it('refuses a corrupt key file and leaves it in place', () => {
    const dir = tempDir();
    const file = signingKeyFile(dir);
    fs.writeFileSync(file, '-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
    const e = thrown(() => loadSigningKey(dir, { create: true }));
    expect(e.code).toBe('signing_key_corrupt');
    expect(e.message).toContain(`signing key ${file} is corrupt`);
    expect(e.message).toContain(`restore ${file} from a backup`);
    expect(fs.readFileSync(file, 'utf8')).toContain('broken');
  });
});

describe('openOutbox and the signing key', () => {
  it('signs with the data_dir key and records it in the outbox', () => {
    const dir = tempDir();
    const box = openOutbox(dir, 'gw-1', 'plant-a', roomyLimits);
    const [s] = box.append(drafts(1));
    box.close();
    expect(s!.key_id).toBe(loadSigningKey(dir, { create: false }).keyId);
    const again = openOutbox(dir, 'gw-1', 'plant-a', roomyLimits);
    expect(again.signer.keyId).toBe(s!.key_id);
    again.close();
  });

  it('refuses to start with a new key when the key of an existing outbox is lost', () => {
    const dir = tempDir();
    openOutbox(dir, 'gw-1', 'plant-a', roomyLimits).close();
    const file = signingKeyFile(dir);
    fs.rmSync(file);
    const e = thrown(() => openOutbox(dir, 'gw-1', 'plant-a', roomyLimits));
    expect(e.code).toBe('signing_key_missing');
    expect(e.message).toContain(`signing key ${file} is missing`);
    expect(e.message).toContain(`mv ${outboxFile(dir)} ${outboxFile(dir)}.old`);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('refuses a different key for an existing outbox (a key change is never silent)', () => {
    const dir = tempDir();
    openOutbox(dir, 'gw-1', 'plant-a', roomyLimits).close();
    const other = tempDir();
    loadSigningKey(other, { create: true });
    fs.copyFileSync(signingKeyFile(other), signingKeyFile(dir));
    const e = thrown(() => openOutbox(dir, 'gw-1', 'plant-a', roomyLimits));
    expect(e.code).toBe('outbox_key_mismatch');
    expect(e.message).toMatch(/its chain is signed with key [0-9a-f]{16}, but the signing key is [0-9a-f]{16}/);
  });

  it('starts a new chain with a new key once the outbox is moved aside', () => {
    const dir = tempDir();
    const box = openOutbox(dir, 'gw-1', 'plant-a', roomyLimits);
    const old = box.signer.keyId;
    box.close();
    fs.rmSync(signingKeyFile(dir));
    fs.renameSync(outboxFile(dir), `${outboxFile(dir)}.old`);
    const fresh = openOutbox(dir, 'gw-1', 'plant-a', roomyLimits);
    expect(fresh.signer.keyId).not.toBe(old);
    expect(fresh.append(drafts(1))[0]!.seq).toBe(1);
    fresh.close();
  });
});
