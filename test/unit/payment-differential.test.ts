// lib/steps/payment.ts against the check it replaced (test/support/payment-reference.ts): every field
// the payment check reads, set to thousands of generated strings near and far from its pattern, and
// the plaintext's bytes changed (invalid UTF-8 included), give the same payment or the same code and
// message from both.
import { describe, expect, test } from 'vitest';
import { ApplePayError } from '../../lib/errors.js';
import { parsePayment } from '../../lib/steps/payment.js';
import { defaultPayment } from '../../test-vectors/gen/token.js';
import { referenceParsePayment } from '../support/payment-reference.js';

function outcome(parse: (p: Uint8Array) => unknown, plaintext: Uint8Array): unknown {
  try {
    return { ok: JSON.stringify(parse(plaintext)) };
  } catch (err) {
    if (!(err instanceof ApplePayError)) return { thrown: String(err) };
    return { code: err.code, message: err.message, details: err.details };
  }
}

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

const check = (plaintext: Uint8Array): void => {
  const expected = outcome(referenceParsePayment, plaintext);
  const actual = outcome(parsePayment, plaintext);
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    expect({ actual, input: Buffer.from(plaintext).toString('latin1') }).toEqual({
      actual: expected,
      input: Buffer.from(plaintext).toString('latin1'),
    });
  }
};

// Characters that sit on the edges of the patterns: digits, hex letters of both cases and their
// neighbours, the base64 alphabet, padding, URL-safe base64, whitespace, controls, non-ASCII digits.
const ALPHABET = [
  '0',
  '1',
  '2',
  '3',
  '9',
  'a',
  'f',
  'g',
  'A',
  'F',
  'G',
  '@',
  '`',
  '/',
  '+',
  '-',
  '_',
  '=',
  ' ',
  '\n',
  '\u0010',
  '\u0019',
  '\u0660',
  '\uff10',
  'é',
  'Z',
  'z',
];

function variants(next: () => number, base: string): string[] {
  const out = [base, '', base + base];
  for (let k = 0; k < 60; k++) {
    const chars = [...base];
    const ops = 1 + Math.floor(next() * 3);
    for (let o = 0; o < ops; o++) {
      const at = Math.floor(next() * (chars.length + 1));
      const c = ALPHABET[Math.floor(next() * ALPHABET.length)]!;
      const op = Math.floor(next() * 3);
      if (op === 0 && at < chars.length) chars[at] = c;
      else if (op === 1) chars.splice(at, 1);
      else chars.splice(at, 0, c);
    }
    out.push(chars.join(''));
  }
  return out;
}

describe('the payment check agrees with the check it replaced', () => {
  test('every checked field set to strings near and far from its pattern', () => {
    const next = rng(16);
    const base = defaultPayment() as Record<string, unknown>;
    const bytes = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
    const top: [string, string][] = [
      ['applicationPrimaryAccountNumber', '4111111111111111'],
      ['applicationExpirationDate', '291231'],
      ['currencyCode', '840'],
      ['deviceManufacturerIdentifier', '040010030273'],
    ];
    for (const [field, good] of top) for (const v of variants(next, good)) check(bytes({ ...base, [field]: v }));
    for (const date of ['000101', '991231', '290001', '290100', '290132', '291301', '290229', '293100', '29123', '2912311']) {
      check(bytes({ ...base, applicationExpirationDate: date }));
    }
    for (const n of [11, 12, 19, 20]) check(bytes({ ...base, applicationPrimaryAccountNumber: '4'.repeat(n) }));
    for (const v of variants(next, '7').concat(['07', '100', '']))
      check(bytes({ ...base, paymentData: { onlinePaymentCryptogram: 'AAAA', eciIndicator: v } }));
    const base64 = [
      'AOA3rpYAAAAAAAAAAAAAAAAAAAA=',
      'QQ==',
      'QR==',
      'QUI=',
      'QUJ=',
      'QUJD',
      'AA==',
      'A===',
      '====',
      'QQ',
      'QQ=',
      'Q',
      '-_-_',
      'QUJD\n',
    ];
    for (const good of base64) {
      for (const v of variants(next, good)) {
        check(bytes({ ...base, paymentData: { onlinePaymentCryptogram: v } }));
        check(bytes({ ...base, paymentDataType: 'EMV', paymentData: { emvData: v, encryptedPINData: 'ab' } }));
      }
    }
    for (const v of variants(next, 'abcDEF0123'))
      check(bytes({ ...base, paymentDataType: 'EMV', paymentData: { emvData: 'AAAA', encryptedPINData: v } }));
    for (const v of [1, null, true, [], {}, 'x']) {
      check(bytes({ ...base, paymentData: { onlinePaymentCryptogram: v } }));
      check(bytes({ ...base, applicationPrimaryAccountNumber: v }));
    }
  });

  test('the plaintext bytes changed, cut and extended, invalid UTF-8 included', () => {
    const next = rng(17);
    const plaintext = Buffer.from(JSON.stringify({ ...defaultPayment(), cardholderName: 'Zoë' }));
    for (let i = 0; i < plaintext.length; i++) {
      for (const v of [
        0x00,
        0x22,
        0x30,
        0x5c,
        0x7f,
        0x80,
        0xbf,
        0xc0,
        0xc3,
        0xe0,
        0xed,
        0xef,
        0xf4,
        0xf5,
        0xff,
        Math.floor(next() * 256),
      ]) {
        const c = Buffer.from(plaintext);
        c[i] = v;
        check(c);
      }
      check(plaintext.subarray(0, i));
    }
    check(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), plaintext]));
    check(Buffer.concat([plaintext, Buffer.from([0xed, 0xa0, 0x80])]));
    check(new Uint8Array(0));
  });
});
