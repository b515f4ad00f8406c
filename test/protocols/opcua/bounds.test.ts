// Values from an OPC UA server are bounded before they become samples, facts or evidence: long
// strings and byte strings are bad values with the reason, arrays and structures are refused, and
// strings in facts (BuildInfo, certificate, endpoints) are cut with a note of their length.
import type { EndpointDescription } from 'node-opcua';
import { describe, expect, it } from 'vitest';
import { decodeVariant, MAX_FACT_CHARS, MAX_VALUE_BYTES, MAX_VALUE_CHARS, plainValue } from '../../../protocols/opcua/decode.js';
import { postureData } from '../../../protocols/opcua/facts.js';

const DT = { String: 12, ByteString: 15, LocalizedText: 21, QualifiedName: 20, NodeId: 17, Double: 11, ExtensionObject: 22, Variant: 24 };

describe('sample values from a server are bounded', () => {
  it.each([
    ['a string at the limit', { dataType: DT.String, value: 'x'.repeat(MAX_VALUE_CHARS) }, { value: 'x'.repeat(MAX_VALUE_CHARS) }],
    ['a string over it', { dataType: DT.String, value: 'x'.repeat(10_000_000) }, { value: null, reason: `string of 10000000 characters is over the limit of ${MAX_VALUE_CHARS}; point node_id at a shorter value` }],
    ['a LocalizedText over it', { dataType: DT.LocalizedText, value: { text: 'y'.repeat(MAX_VALUE_CHARS + 1) } }, { value: null, reason: expect.stringMatching(/^string of 1025 characters is over the limit/) }],
    ['a QualifiedName over it', { dataType: DT.QualifiedName, value: { name: 'q'.repeat(5000) } }, { value: null, reason: expect.stringMatching(/^string of 5000 characters/) }],
    ['a NodeId with a long string id', { dataType: DT.NodeId, value: { toString: () => `ns=1;s=${'n'.repeat(2000)}` } }, { value: null, reason: expect.stringMatching(/^string of 2007 characters/) }],
    ['a short byte string', { dataType: DT.ByteString, value: Buffer.from([1, 2, 3]) }, { value: 'AQID' }],
    ['a byte string over the limit', { dataType: DT.ByteString, value: Buffer.alloc(16 * 1024 * 1024) }, { value: null, reason: `byte string of 16777216 bytes is over the limit of ${MAX_VALUE_BYTES}; point node_id at a shorter value` }],
    ['a string that is not one', { dataType: DT.String, value: { length: 3 } }, { value: null, reason: 'invalid string' }],
    ['a large array', { dataType: DT.Double, arrayType: 1, value: new Float64Array(1_000_000) }, { value: null, reason: expect.stringMatching(/arrays are not supported/) }],
    ['a matrix', { dataType: DT.Double, arrayType: 2, value: new Float64Array(4) }, { value: null, reason: expect.stringMatching(/arrays are not supported/) }],
    ['a structure', { dataType: DT.ExtensionObject, value: { nested: { deeper: ['x'.repeat(100_000)] } } }, { value: null, reason: expect.stringMatching(/data type 22 is not supported/) }],
    ['a nested variant', { dataType: DT.Variant, value: { dataType: DT.String, value: 'x' } }, { value: null, reason: expect.stringMatching(/data type 24 is not supported/) }],
  ])('%s', (_name, variant, want) => {
    const d = decodeVariant(variant);
    expect(d).toEqual(want);
    // Whatever the input, a decoded value (or its reason) stays small.
    expect(JSON.stringify(d).length).toBeLessThan(MAX_VALUE_CHARS * 2);
  });
});

describe('facts from a server are bounded', () => {
  it('cuts BuildInfo strings and drops arrays and structures', () => {
    const long = plainValue({ dataType: DT.String, value: 'v'.repeat(1_000_000) }) as string;
    expect(long).toBe(`${'v'.repeat(MAX_FACT_CHARS)}... (1000000 characters)`);
    expect(plainValue({ dataType: DT.LocalizedText, value: { text: 't'.repeat(300) } })).toBe(`${'t'.repeat(MAX_FACT_CHARS)}... (300 characters)`);
    expect(plainValue({ dataType: DT.String, value: 'otsentry simulators' })).toBe('otsentry simulators');
    expect(plainValue({ dataType: DT.String, arrayType: 1, value: Array.from({ length: 100_000 }, () => 'x') })).toBeNull();
    expect(plainValue({ dataType: DT.ExtensionObject, value: { a: 1 } })).toBeNull();
    expect(plainValue({ dataType: 13, value: new Date(0) })).toBe('1970-01-01T00:00:00.000Z');
  });

  it('posture: endpoints alike are merged and capped, URLs cut, and every endpoint still counts for the summaries', () => {
    const ep = (i: number, policy: string, mode: number, tokens: number[]) =>
      ({
        endpointUrl: `opc.tcp://plc:4840/${'p'.repeat(1000)}/${i}`,
        securityPolicyUri: `http://opcfoundation.org/UA/SecurityPolicy#${policy}`,
        securityMode: mode,
        userIdentityTokens: tokens.map((tokenType) => ({ tokenType })),
        securityLevel: 1,
        serverCertificate: null,
      }) as unknown as EndpointDescription;
    // 10,000 secure endpoints alike, 500 with garbage policies, and one anonymous None at the very end.
    const endpoints = [
      ...Array.from({ length: 10_000 }, (_, i) => ep(i, 'Basic256Sha256', 3, [1])),
      ...Array.from({ length: 500 }, (_, i) => ep(i, `Junk${i}${'j'.repeat(500)}`, 3, [1])),
      ep(0, 'None', 1, [0]),
    ];
    const d = postureData({ endpointUrl: 'opc.tcp://plc:4840', endpoints, clock: null, session: 'open', policy: 'Basic256Sha256', mode: 'SignAndEncrypt' });
    const list = d.endpoints as { endpoint_url: string; security_policy: string }[];
    expect(list).toHaveLength(64);
    expect(d.endpoints_total).toBe(10_501);
    expect(list[0]).toMatchObject({ security_policy: 'None', security_mode: 'None', user_tokens: ['anonymous'] }); // the weakest first
    expect(list[1].endpoint_url).toMatch(/^opc\.tcp:\/\/plc:4840\/p+\.\.\. \(\d+ characters\)$/);
    expect(list[1].endpoint_url.length).toBeLessThan(MAX_FACT_CHARS + 30);
    expect(d.security_policies).toHaveLength(64);
    expect(list[2].security_policy.length).toBeLessThan(100);
    expect(d.anonymous).toBe(true);
    expect(d.security_modes).toEqual(['SignAndEncrypt', 'None']);
    expect(JSON.stringify(d).length).toBeLessThan(200_000);
  });
});
