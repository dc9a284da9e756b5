// lib/steps/signed-data.ts against the reader it replaced (test/support/signed-data-reference.ts):
// on genuine signatures of every shape the minter makes and on thousands of mutations of them (one
// byte changed at every offset, bytes inserted and deleted, truncations, length octets rewritten),
// both give the same fields or the same code with the same message. A token with several faults
// therefore keeps the code it had.
import { describe, expect, test } from 'vitest';
import { ApplePayError } from '../../lib/errors.js';
import { parseSignedData, signerNames, type SignerInfo } from '../../lib/steps/signed-data.js';
import { readTime, readTlv } from '../../lib/codec/der.js';
import { referenceParseSignedData, referenceReadTime } from '../support/signed-data-reference.js';
import { mint } from '../support/helpers.js';

type Version = 'EC_v1' | 'RSA_v1';

function outcome(parse: (b: Uint8Array, v: Version) => ReturnType<typeof parseSignedData>, buf: Uint8Array, version: Version): unknown {
  try {
    const { certificates, signer } = parse(buf, version);
    return {
      certificates: certificates.map((c) => Buffer.from(c).toString('hex')),
      issuer: signer.issuer.toString('hex'),
      serialNumber: signer.serialNumber.toString('hex'),
      signedAttributes: signer.signedAttributes.toString('hex'),
      messageDigest: signer.messageDigest.toString('hex'),
      signingTime: signer.signingTime.getTime(),
      signature: signer.signature.toString('hex'),
    };
  } catch (err) {
    if (!(err instanceof ApplePayError)) return { thrown: String(err) };
    return { code: err.code, message: err.message, details: err.details };
  }
}

// A small deterministic generator, so a failure names a reproducible mutation.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const SHAPES: { name: string; version: Version; cms?: Record<string, unknown> }[] = [
  { name: 'EC_v1 indefinite', version: 'EC_v1', cms: { indefiniteLength: true } },
  { name: 'EC_v1 definite', version: 'EC_v1', cms: { indefiniteLength: false } },
  { name: 'EC_v1 SHA-256 without NULL', version: 'EC_v1', cms: { digestParamsNull: false } },
  { name: 'RSA_v1', version: 'RSA_v1' },
];

describe('the CMS reader agrees with the reader it replaced', () => {
  for (const shape of SHAPES) {
    test(`${shape.name}: genuine, every offset changed, inserted, deleted, truncated`, () => {
      const der = mint({ version: shape.version, ...(shape.cms ? { cms: shape.cms } : {}) }).signatureDer;
      const next = rng(der.length * 31 + shape.name.length);
      const check = (buf: Uint8Array, version: Version = shape.version): void => {
        const expected = outcome(referenceParseSignedData, buf, version);
        const actual = outcome(parseSignedData, buf, version);
        if (JSON.stringify(actual) !== JSON.stringify(expected))
          expect({ actual, input: Buffer.from(buf).toString('hex') }).toEqual({
            actual: expected,
            input: Buffer.from(buf).toString('hex'),
          });
      };
      check(der);
      check(der, shape.version === 'EC_v1' ? 'RSA_v1' : 'EC_v1');
      for (let i = 0; i < der.length; i++) {
        const changed = Buffer.from(der);
        changed[i] = changed[i]! ^ (1 + Math.floor(next() * 255));
        check(changed);
        // The values that steer a DER reader: lengths, indefinite markers, end-of-contents, tags.
        for (const v of [0x00, 0x80, 0x81, 0x84, 0x85, 0x1f, 0x30, 0xa0, 0xa1, 0x31, 0xff]) {
          if (der[i] === v) continue;
          const c = Buffer.from(der);
          c[i] = v;
          check(c);
        }
        check(Buffer.concat([der.subarray(0, i), Buffer.of(Math.floor(next() * 256)), der.subarray(i)]));
        check(Buffer.concat([der.subarray(0, i), der.subarray(i + 1)]));
        check(der.subarray(0, i));
      }
    });
  }
});

describe('readTime agrees with the regular-expression reader it replaced', () => {
  test('UTCTime and GeneralizedTime: calendar edges, leap years, non-digits, wrong lengths, other tags', () => {
    const next = rng(7);
    const result = (read: typeof readTime, der: Buffer): string => {
      try {
        return String(read(der, readTlv(der, 0, der.length)).getTime());
      } catch (err) {
        return (err as Error).message;
      }
    };
    const texts: string[] = [];
    const two = (n: number): string => String(n).padStart(2, '0');
    for (const year of [0, 99, 100, 1600, 1900, 1950, 1999, 2000, 2024, 2049, 2050, 2100, 9999]) {
      for (const [month, day] of [
        [1, 1],
        [2, 28],
        [2, 29],
        [2, 30],
        [4, 31],
        [12, 31],
        [0, 10],
        [13, 1],
        [1, 0],
        [1, 32],
      ]) {
        for (const time of ['000000', '235959', '240000', '236000', '235960']) {
          const rest = `${two(month!)}${two(day!)}${time}Z`;
          texts.push(`${String(year).padStart(4, '0')}${rest}`, `${two(year % 100)}${rest}`);
        }
      }
    }
    const alphabet = '0123456789Z+-.: /\u0660';
    for (let i = 0; i < 4000; i++) {
      const base = texts[Math.floor(next() * texts.length)]!.split('');
      const at = Math.floor(next() * (base.length + 1));
      const op = Math.floor(next() * 3);
      if (op === 0) base[at] = alphabet[Math.floor(next() * alphabet.length)]!;
      else if (op === 1) base.splice(at, 1);
      else base.splice(at, 0, alphabet[Math.floor(next() * alphabet.length)]!);
      texts.push(base.join(''));
    }
    for (const text of texts) {
      const body = Buffer.from(text, 'latin1');
      for (const tag of [0x17, 0x18, 0x0c]) {
        const der = Buffer.concat([Buffer.of(tag, body.length), body]);
        expect(result(readTime, der), `${tag.toString(16)} ${text}`).toBe(result(referenceReadTime, der));
      }
    }
  });
});

describe('signerNames', () => {
  test('compares issuerAndSerialNumber in place, and on a SignerInfo built by hand alike', () => {
    const der = mint({ version: 'EC_v1' }).signatureDer;
    const { signer } = parseSignedData(der, 'EC_v1');
    const plain: SignerInfo = {
      issuer: signer.issuer,
      serialNumber: signer.serialNumber,
      signedAttributes: signer.signedAttributes,
      messageDigest: signer.messageDigest,
      signingTime: signer.signingTime,
      signature: signer.signature,
    };
    for (const s of [signer, plain]) {
      expect(signerNames(s, signer.issuer, signer.serialNumber)).toBe(true);
      const otherSerial = Buffer.from(signer.serialNumber);
      otherSerial[otherSerial.length - 1]! ^= 1;
      expect(signerNames(s, signer.issuer, otherSerial)).toBe(false);
      expect(signerNames(s, signer.issuer, signer.serialNumber.subarray(1))).toBe(false);
      const otherIssuer = Buffer.from(signer.issuer);
      otherIssuer[otherIssuer.length - 1]! ^= 1;
      expect(signerNames(s, otherIssuer, signer.serialNumber)).toBe(false);
    }
  });
});
