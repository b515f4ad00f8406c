// central.yaml's files are checked when it loads, before anything connects: the SIEM outputs' and
// the console's TLS files as well as the broker's (the parts start only after the broker link).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCentralConfig } from '../../agent/central/config/load.js';
import { ConfigError } from '../../protocols/problems.js';
import { hashPassword } from '../../agent/central/console/password.js';

describe('central.yaml files', () => {
  it('names every missing or exposed TLS file of the broker, the SIEM outputs and the console at once', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-central-files-'));
    try {
      fs.writeFileSync(path.join(dir, 'console.crt'), '');
      fs.writeFileSync(path.join(dir, 'console.key'), '', { mode: 0o644 });
      const hash = await hashPassword('a long enough password', { ln: 10, r: 8, p: 1 });
      fs.writeFileSync(
        path.join(dir, 'central.yaml'),
        [
          'broker: { url: "mqtts://127.0.0.1:8883", tls: { ca_file: broker-ca.crt } }',
          'siem:',
          '  - { name: soc, host: 127.0.0.1, port: 6514, tls: { ca_file: siem-ca.crt } }',
          'console:',
          '  listen: 127.0.0.1:8470',
          '  tls: { cert_file: console.crt, key_file: console.key }',
          `  users: [{ name: alice, role: responder, password_hash: '${hash}' }]`,
        ].join('\n'),
      );
      let err: unknown;
      try {
        loadCentralConfig(path.join(dir, 'central.yaml'));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.map((p) => p.path)).toEqual(['broker.tls.ca_file', 'siem[0].tls.ca_file', 'console.tls.key_file']);
      expect((err as ConfigError).problems[2].message).toMatch(/chmod 600/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
