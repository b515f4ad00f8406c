// Large values from a real OPC UA server (node-opcua on a free port): a 200,000-character string,
// a 100 kB byte string, a 100,000-element array and a huge BuildInfo become bad samples with the
// reason or cut fact strings, in read and subscription mode, while a normal tag beside them stays good.
import fs from 'node:fs';
import path from 'node:path';
import type { OPCUAServer } from 'node-opcua';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../protocols/log.js';
import { MAX_FACT_CHARS } from '../../../protocols/opcua/decode.js';
import { loadOpcua } from '../../../protocols/opcua/lib.js';
import { OpcuaPoller } from '../../../protocols/opcua/poller.js';
import { agentPkiDir } from '../../../protocols/opcua/pki.js';
import type { PollResult } from '../../../protocols/types.js';
import { freePort } from '../../helpers/ports.js';
import { opcuaDevice, tempDir } from './helpers.js';

let server: OPCUAServer;
let url = '';
const dir = tempDir('ua-large');
const pollers: OpcuaPoller[] = [];

beforeAll(async () => {
  const ua = await loadOpcua();
  const port = await freePort();
  const cm = new ua.OPCUACertificateManager({ rootFolder: path.join(dir, 'server-pki'), automaticallyAcceptUnknownCertificate: true, disableFileWatchers: true });
  await cm.initialize();
  server = new ua.OPCUAServer({
    port,
    hostname: '127.0.0.1',
    serverCertificateManager: cm,
    securityPolicies: [ua.SecurityPolicy.None],
    securityModes: [ua.MessageSecurityMode.None],
    allowAnonymous: true,
    buildInfo: { productName: 'P'.repeat(100_000), manufacturerName: 'acme', softwareVersion: '1.0' },
  });
  await server.initialize();
  const space = server.engine.addressSpace!;
  const ns = space.getOwnNamespace();
  const add = (name: string, dataType: string, value: { dataType: number; arrayType?: number; value: unknown }) =>
    ns.addVariable({ organizedBy: space.rootFolder.objects, browseName: name, nodeId: `s=${name}`, dataType, value, valueRank: value.arrayType ? 1 : -1 });
  add('level', 'Double', { dataType: ua.DataType.Double, value: 1.5 });
  add('big_string', 'String', { dataType: ua.DataType.String, value: 'x'.repeat(200_000) });
  add('big_bytes', 'ByteString', { dataType: ua.DataType.ByteString, value: Buffer.alloc(100_000, 7) });
  add('big_array', 'Double', { dataType: ua.DataType.Double, arrayType: ua.VariantArrayType.Array, value: new Float64Array(100_000) });
  await server.start();
  url = `opc.tcp://127.0.0.1:${port}`;
}, 60_000);

afterAll(async () => {
  for (const p of pollers) await p.close().catch(() => undefined);
  await server?.shutdown(0);
  fs.rmSync(dir, { recursive: true, force: true });
});

function poller(mode: 'read' | 'subscription'): OpcuaPoller {
  const dev = opcuaDevice(`ua-large-${mode}`, url, {
    security_mode: 'None',
    security_policy: 'None',
    auth: { type: 'anonymous' },
    mode,
    timeout_ms: 2000,
    interval_ms: 3000,
    subscription: { publishing_interval_ms: 100, sampling_interval_ms: 100 },
    tags: ['level', 'big_string', 'big_bytes', 'big_array'].map((name) => ({ name, node_id: `ns=1;s=${name}` })),
  });
  const p = new OpcuaPoller(dev, { pkiDir: agentPkiDir(dir), logger: silentLogger });
  pollers.push(p);
  return p;
}

const byTag = (r: PollResult) => Object.fromEntries(r.samples.map((s) => [s.tag, { value: s.value, quality: s.quality, reason: s.reason }]));

function expectBounded(r: PollResult): void {
  const t = byTag(r);
  expect(t.level).toEqual({ value: 1.5, quality: 'good', reason: undefined });
  expect(t.big_string).toEqual({ value: null, quality: 'bad', reason: 'string of 200000 characters is over the limit of 1024; point node_id at a shorter value' });
  expect(t.big_bytes).toEqual({ value: null, quality: 'bad', reason: 'byte string of 100000 bytes is over the limit of 1024; point node_id at a shorter value' });
  expect(t.big_array).toMatchObject({ value: null, quality: 'bad', reason: expect.stringMatching(/arrays are not supported/) as unknown as string });
  expect(JSON.stringify(r.samples).length).toBeLessThan(4000);
}

describe('large values from a real OPC UA server', () => {
  it('read mode: bad samples with the reason, a normal tag stays good; BuildInfo strings are cut', { timeout: 30_000 }, async () => {
    const p = poller('read');
    await p.connect();
    expectBounded(await p.poll());
    const [identity] = await p.readFacts(['identity']);
    expect(identity.data.vendor).toBe('acme');
    expect(identity.data.product_name).toBe(`${'P'.repeat(MAX_FACT_CHARS)}... (100000 characters)`);
  });

  it('subscription mode: the same bounds on every data change', { timeout: 30_000 }, async () => {
    const p = poller('subscription');
    await p.connect();
    // The first notifications arrive one publishing interval after the subscription starts.
    let r = await p.poll();
    for (let i = 0; i < 50 && new Set(r.samples.map((s) => s.tag)).size < 4; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await p.poll();
    }
    expectBounded(r);
  });
});
