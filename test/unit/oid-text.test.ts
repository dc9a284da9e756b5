// oidText keeps arcs as numbers while they are small and switches to BigInt beyond: checked against a
// plain BigInt reading of the same octets on random encodings, huge arcs and malformed ones.
import { describe, expect, it } from 'vitest';
import { oidText } from '../../lib/x509/public-key.js';

function reference(bytes: Uint8Array): string {
  const arcs: bigint[] = [];
  let value = 0n;
  for (const byte of bytes) {
    value = (value << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0n;
    }
  }
  const first = arcs[0]!;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

function encodeArc(value: bigint): number[] {
  const out = [Number(value & 0x7fn)];
  for (let v = value >> 7n; v > 0n; v >>= 7n) out.unshift(Number(v & 0x7fn) | 0x80);
  return out;
}

let seed = 12345;
const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const randomArc = (): bigint => {
  const bits = Math.floor(random() * 90);
  let v = 0n;
  for (let i = 0; i < bits; i++) v = (v << 1n) | (random() < 0.5 ? 1n : 0n);
  return v;
};

describe('oidText', () => {
  it('reads well-known OIDs', () => {
    expect(oidText(Buffer.from('2a8648ce3d030107', 'hex'))).toBe('1.2.840.10045.3.1.7');
    expect(oidText(Buffer.from('2a864886f7636406021d'.slice(0, 18), 'hex'))).toBe(reference(Buffer.from('2a864886f763640602', 'hex')));
    expect(oidText(Buffer.from('2b81040022', 'hex'))).toBe('1.3.132.0.34');
    expect(oidText(Buffer.from('00', 'hex'))).toBe('0.0');
    expect(oidText(Buffer.from('4f', 'hex'))).toBe('1.39');
    expect(oidText(Buffer.from('50', 'hex'))).toBe('2.0');
  });

  it('agrees with a BigInt reading on random OIDs, arcs up to 90 bits included', () => {
    for (let n = 0; n < 5000; n++) {
      const arcs = Array.from({ length: 1 + Math.floor(random() * 8) }, randomArc);
      const bytes = Uint8Array.from(arcs.flatMap(encodeArc));
      expect(oidText(bytes)).toBe(reference(bytes));
    }
  });

  it('is exact at the switch from numbers to BigInt', () => {
    for (let bits = 40; bits <= 60; bits++) {
      for (const delta of [-1n, 0n, 1n]) {
        const arc = (1n << BigInt(bits)) + delta;
        const bytes = Uint8Array.from([0x2a, ...encodeArc(arc), ...encodeArc(arc)]);
        expect(oidText(bytes)).toBe(reference(bytes));
        const first = Uint8Array.from(encodeArc(arc + 80n));
        expect(oidText(first)).toBe(reference(first));
      }
    }
  });

  it('refuses empty, non-minimal and truncated encodings', () => {
    expect(() => oidText(new Uint8Array(0))).toThrow(/empty OID/);
    expect(() => oidText(Buffer.from('2a8001', 'hex'))).toThrow(/non-minimal/);
    expect(() => oidText(Buffer.from('2a86', 'hex'))).toThrow(/truncated/);
  });
});
