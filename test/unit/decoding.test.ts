// The strict decoders at the bottom of the pipeline (docs/token-format.md#strict-decoding).
import { describe, expect, test } from 'vitest';
import { decodeBase64, decodeHex } from '../../lib/codec/encoding.js';
import { JsonError, parseStrictJson } from '../../lib/codec/json.js';
import { DerError, readTime, readTlv } from '../../lib/codec/der.js';

const limits = { maxDepth: 8, maxEntries: 64 };

describe('decodeBase64', () => {
  test('accepts canonical padded base64 and returns its bytes', () => {
    expect(decodeBase64('')).toEqual(Buffer.alloc(0));
    expect(decodeBase64('QQ==')).toEqual(Buffer.from('A'));
    expect(decodeBase64('QUI=')).toEqual(Buffer.from('AB'));
    expect(decodeBase64('+/+/')).toEqual(Buffer.from([0xfb, 0xff, 0xbf]));
  });
  test.each([
    ['url-safe alphabet', '-_-_'],
    ['missing padding', 'QQ'],
    ['non-zero padding bits', 'QR=='],
    ['whitespace', 'QU I='],
    ['newline', 'QUI=\n'],
    ['data after padding', 'QQ==QQ=='],
    ['junk characters', 'QU*='],
    ['excess padding', 'QQ==='],
  ])('rejects %s', (_what, text) => {
    // Buffer.from decodes every one of these without complaint.
    expect(Buffer.from(text, 'base64').length).toBeGreaterThanOrEqual(0);
    expect(decodeBase64(text)).toBeNull();
  });
});

describe('decodeHex', () => {
  test('accepts either case and keeps leading zero bytes', () => {
    expect(decodeHex('00ff')).toEqual(Buffer.from([0, 255]));
    expect(decodeHex('00FF')).toEqual(Buffer.from([0, 255]));
  });
  test.each([
    ['odd length', 'abc'],
    ['bad character', 'zz'],
    ['bad character later', '00zz'],
    ['prefix', '0x00'],
  ])('rejects %s', (_w, text) => {
    expect(decodeHex(text)).toBeNull();
  });
});

describe('parseStrictJson', () => {
  test('parses RFC 8259 JSON with escapes', () => {
    expect(parseStrictJson('{"a":[1,-2.5e3,true,false,null],"b":"x\\"\\u0041\\n"}', limits)).toEqual({
      a: [1, -2500, true, false, null],
      b: 'x"A\n',
    });
  });
  test.each([
    ['duplicate keys', '{"a":1,"a":2}'],
    ['duplicate keys that Object.prototype also has', '{"toString":1,"toString":2}'],
    ['__proto__ key', '{"__proto__":{"polluted":true}}'],
    ['constructor key', '{"constructor":1}'],
    ['prototype key', '{"x":{"prototype":1}}'],
    ['trailing comma', '{"a":1,}'],
    ['leading zero', '{"a":01}'],
    ['raw control character', '{"a":"\u0001"}'],
    ['single quotes', "{'a':1}"],
    ['trailing data', '{} {}'],
    ['truncated', '{"a":'],
    ['bad escape', '{"a":"\\x"}'],
    ['deep nesting', '['.repeat(10) + ']'.repeat(10)],
    ['too many keys', `{${Array.from({ length: 65 }, (_, i) => `"k${i}":0`).join(',')}}`],
  ])('rejects %s', (_what, text) => {
    expect(() => parseStrictJson(text, limits)).toThrow(JsonError);
  });
  test('keys that Object.prototype has are ordinary keys, once each', () => {
    expect(parseStrictJson('{"toString":1,"hasOwnProperty":2,"valueOf":3}', limits)).toEqual({
      toString: 1,
      hasOwnProperty: 2,
      valueOf: 3,
    });
  });
  test('10,000-deep nesting is refused without exhausting the stack', () => {
    expect(() => parseStrictJson('['.repeat(10_000), limits)).toThrow(JsonError);
  });
  test('a refused prototype key leaves Object.prototype untouched', () => {
    expect(() => parseStrictJson('{"a":{"__proto__":{"polluted":true}}}', limits)).toThrow(JsonError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('BER reader', () => {
  test('reads definite and indefinite lengths and rejects overruns', () => {
    expect(readTlv(Buffer.from('3003020101', 'hex'), 0, 5)).toMatchObject({ tag: 0x30, contentStart: 2, end: 5 });
    expect(readTlv(Buffer.from('30800201010000', 'hex'), 0, 7)).toMatchObject({ tag: 0x30, indefinite: true, contentEnd: 5, end: 7 });
    expect(() => readTlv(Buffer.from('3005020101', 'hex'), 0, 5)).toThrow(DerError);
    expect(() => readTlv(Buffer.from('308102020101', 'hex'), 0, 6)).toThrow(/non-minimal/);
    expect(() => readTlv(Buffer.from('0480', 'hex'), 0, 2)).toThrow(DerError);
    expect(() => readTlv(Buffer.from('3080' + '3080'.repeat(40), 'hex'), 0, 162)).toThrow(DerError);
  });
  test('times: UTCTime window, GeneralizedTime, impossible dates', () => {
    const t = (tag: number, s: string) => {
      const buf = Buffer.concat([Buffer.from([tag, s.length]), Buffer.from(s, 'latin1')]);
      return readTime(buf, readTlv(buf, 0, buf.length));
    };
    expect(t(0x17, '141027195143Z').toISOString()).toBe('2014-10-27T19:51:43.000Z');
    expect(t(0x17, '500101000000Z').getUTCFullYear()).toBe(1950);
    expect(t(0x18, '20500101000000Z').getUTCFullYear()).toBe(2050);
    expect(() => t(0x17, '140231000000Z')).toThrow(DerError);
    expect(() => t(0x17, '1410271951Z')).toThrow(DerError);
    expect(() => t(0x17, '141027195143+0100')).toThrow(DerError);
  });
});
