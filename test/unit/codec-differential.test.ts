// The fast decoders (native base64, table hex, the JSON reader's whole-text scans) against the ones
// they replaced (test/support/reference-codec.ts): the same verdict, the same bytes, and for JSON the
// same JsonError message and offset, on real fields, every single-character mutation of them, random
// strings and every padding variant. docs/token-format.md#strict-decoding says what is canonical.
import { describe, expect, test } from 'vitest';
import { decodeBase64, decodeHex, isCanonicalBase64 } from '../../lib/codec/encoding.js';
import { JsonError, MemberNames, parseStrictJson } from '../../lib/codec/json.js';
import { native } from '../../lib/native/binding.js';
import { loadRealSet, mint, REAL_SETS } from '../support/helpers.js';
import { referenceDecodeBase64, referenceDecodeHex, referenceParseStrictJson } from '../support/reference-codec.js';

const limits = { maxDepth: 8, maxEntries: 64 };

// A small deterministic generator: a failure names its seed and reproduces.
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
// Replacements that Node's lenient decoder treats in every different way: symbols, padding, the
// URL-safe pair, whitespace (skipped), junk (skipped), and wide units whose low byte is a symbol.
const MUTANTS = [...'AQgw/+9z=-_ \n\t\r*.\0', '\u0141', '\u0100', '\u00c1', '\ud800', '\udc00', '\u2028', '\uff21'];

function sameBase64(text: string): void {
  const want = referenceDecodeBase64(text);
  const got = decodeBase64(text);
  if (want === null) {
    if (got !== null) expect.fail(`accepted ${JSON.stringify(text)}`);
  } else {
    if (got === null || !got.equals(want)) expect.fail(`refused or misdecoded ${JSON.stringify(text)}`);
  }
  // The validator that decodes nothing draws the same line (it refuses the empty text as well).
  if (isCanonicalBase64(text) !== (want !== null && text.length > 0)) expect.fail(`isCanonicalBase64 disagrees on ${JSON.stringify(text)}`);
}

function sameHex(text: string): void {
  const want = referenceDecodeHex(text);
  const got = decodeHex(text);
  if (want === null) {
    if (got !== null) expect.fail(`accepted ${JSON.stringify(text)}`);
  } else {
    if (got === null || !got.equals(want)) expect.fail(`refused or misdecoded ${JSON.stringify(text)}`);
  }
}

type Outcome = { value: unknown } | { error: string; offset: number };
function outcome(parse: () => unknown): Outcome {
  try {
    return { value: parse() };
  } catch (err) {
    if (!(err instanceof JsonError)) throw err;
    return { error: err.message, offset: err.offset };
  }
}

// Expected member names as the token reader passes them, plus short ones the random texts hit.
const withNames = {
  ...limits,
  memberNames: new MemberNames([
    'version',
    'data',
    'signature',
    'header',
    'publicKeyHash',
    'transactionId',
    'paymentData',
    'a',
    'b',
    'ab',
    'pad',
  ]),
};

function sameJson(text: string): void {
  const want = outcome(() => referenceParseStrictJson(text, limits));
  for (const options of [limits, withNames]) {
    const got = outcome(() => parseStrictJson(text, options));
    if ('value' in want && 'value' in got) {
      expect(got.value).toStrictEqual(want.value);
      continue;
    }
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      const shown = text.length > 300 ? text.slice(0, 300) + '...' : text;
      expect.fail(`${JSON.stringify(shown)}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
  }
}

const indices = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Every position of `text` replaced by each mutant, plus each position deleted and a mutant inserted. */
function* mutations(text: string, positions: Iterable<number>): Generator<string> {
  for (const i of positions) {
    for (const m of MUTANTS) {
      yield text.slice(0, i) + m + text.slice(i + 1);
      yield text.slice(0, i) + m + text.slice(i);
    }
    yield text.slice(0, i) + text.slice(i + 1);
  }
}

const realTokens = REAL_SETS.map((name) => loadRealSet(name).token as Record<string, unknown>);
const mintedTokens = [mint({ version: 'EC_v1' }).paymentData, mint({ version: 'RSA_v1' }).paymentData] as unknown as Record<
  string,
  unknown
>[];
const tokens = [...realTokens, ...mintedTokens];

function fields(kind: 'base64' | 'hex'): string[] {
  const out: string[] = [];
  for (const t of tokens) {
    const header = t.header as Record<string, unknown>;
    const candidates =
      kind === 'base64'
        ? [t.data, t.signature, header.ephemeralPublicKey, header.wrappedKey, header.publicKeyHash]
        : [header.transactionId, header.applicationData];
    for (const c of candidates) if (typeof c === 'string') out.push(c);
  }
  return out;
}

describe('decodeBase64 (native) against the round-trip decoder', () => {
  test('every single-character mutation of every real base64 field', () => {
    const all = fields('base64');
    expect(all.length).toBeGreaterThan(10);
    let count = 0;
    for (const field of all) {
      sameBase64(field);
      // Every position of the short fields; the ends and a stride through a 3 KB signature.
      const positions =
        field.length <= 600 ? indices(field.length) : indices(field.length).filter((i) => i < 40 || i >= field.length - 40 || i % 37 === 0);
      for (const m of mutations(field, positions)) {
        sameBase64(m);
        count++;
      }
    }
    expect(count).toBeGreaterThan(50_000);
  });

  test('every padding variant of every 1- and 2-byte quantum', () => {
    for (const a of B64) {
      for (const b of B64) {
        sameBase64(`${a}${b}==`);
        sameBase64(`${a}${b}=`);
        sameBase64(`${a}${b}`);
        sameBase64(`QUJD${a}${b}==`);
        for (const c of 'AEIMQBCDw/+') {
          sameBase64(`${a}${b}${c}=`);
          sameBase64(`QUJD${a}${b}${c}=`);
          sameBase64(`${a}${b}${c}==`);
          sameBase64(`${a}${b}${c}`);
        }
      }
    }
    for (const text of ['', '=', '==', '===', '====', 'A===', '=AAA', 'AA=A', 'A=AA', 'QQ==QQ==', 'QQ=\u0000', 'QQ\u0000\u0000'])
      sameBase64(text);
  });

  test('random strings over the alphabet, padding and junk, every length up to 48', () => {
    const next = random(16);
    const pool = B64 + B64 + B64 + '===-_ \n*\u0141\u00c1';
    for (let n = 0; n < 60_000; n++) {
      const length = Math.floor(next() * 49);
      let text = '';
      for (let i = 0; i < length; i++) text += pool[Math.floor(next() * pool.length)];
      sameBase64(text);
      // Mostly canonical: the encoding of random bytes, then one unit changed.
      const bytes = Buffer.alloc(Math.floor(next() * 40));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(next() * 256);
      const canonical = bytes.toString('base64');
      sameBase64(canonical);
      if (canonical.length > 0) {
        const at = Math.floor(next() * canonical.length);
        sameBase64(canonical.slice(0, at) + pool[Math.floor(next() * pool.length)] + canonical.slice(at + 1));
      }
    }
  });

  test('texts longer than the addon copies onto its stack', () => {
    for (const size of [3071, 3072, 3073, 6000, 49_152]) {
      const canonical = Buffer.alloc(size, 0xa7).toString('base64');
      sameBase64(canonical);
      sameBase64(canonical.slice(0, -4) + 'p\u0141==');
      sameBase64('\u0141' + canonical.slice(1));
      sameBase64(canonical.slice(0, canonical.length >> 1) + '-' + canonical.slice((canonical.length >> 1) + 1));
    }
  });

  test('the addon writes inside `out` only, whatever the length and padding', () => {
    // Pooled Buffers sit side by side in one ArrayBuffer: a byte written past `out` would corrupt
    // another request's bytes without any crash.
    for (let n = 0; n <= 120; n++) {
      const bytes = Buffer.alloc(n);
      for (let i = 0; i < n; i++) bytes[i] = (i * 89 + n) & 0xff;
      const arena = Buffer.alloc(n + 32, 0xee);
      const out = arena.subarray(8, 8 + n);
      expect(native.decodeBase64Into(bytes.toString('base64'), out)).toBe(true);
      expect(out.equals(bytes)).toBe(true);
      expect(arena.subarray(0, 8).every((b) => b === 0xee) && arena.subarray(8 + n).every((b) => b === 0xee)).toBe(true);
    }
  });

  test('the addon refuses a size that does not match and wrong argument types', () => {
    expect(native.decodeBase64Into('QUI=', Buffer.alloc(2))).toBe(true);
    expect(native.decodeBase64Into('QUI=', Buffer.alloc(1))).toBe(false);
    expect(native.decodeBase64Into('QUI=', Buffer.alloc(3))).toBe(false);
    expect(native.decodeBase64Into('', Buffer.alloc(1))).toBe(false);
    expect(() => native.decodeBase64Into(1 as unknown as string, Buffer.alloc(1))).toThrow(
      expect.objectContaining({ code: 'ERR_ARGUMENT' }),
    );
    expect(() => native.decodeBase64Into('QQ==', new Uint16Array(1) as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ code: 'ERR_ARGUMENT' }),
    );
    expect(() => native.mayHoldControlCharacters(null as unknown as string)).toThrow(expect.objectContaining({ code: 'ERR_ARGUMENT' }));
    const long = 'Q'.repeat(10_000);
    expect(native.mayHoldControlCharacters(long)).toBe(false);
    expect(native.mayHoldControlCharacters(long + '\u001f')).toBe(true);
    expect(native.mayHoldControlCharacters('\u0000' + long)).toBe(true);
    expect(native.mayHoldControlCharacters(long + '\u2028\u0120')).toBe(false);
    // A false alarm on a wide unit is allowed (the reader then checks each string exactly).
    expect(native.mayHoldControlCharacters(long + '\u0101')).toBe(true);
  });
});

describe('decodeHex (table) against the regular expression', () => {
  test('every single-character mutation of every real hex field, and random strings', () => {
    const all = fields('hex');
    expect(all.length).toBeGreaterThan(4);
    for (const field of all) {
      sameHex(field);
      sameHex(field.toUpperCase());
      for (const m of mutations(field, indices(field.length))) sameHex(m);
      for (const c of '0123456789abcdefABCDEFgG/:@`x') for (const i of [0, 1, 31, 63]) sameHex(field.slice(0, i) + c + field.slice(i + 1));
    }
    const next = random(61);
    const pool = '0123456789abcdefABCDEF0123456789g \u0130\u0661x';
    for (let n = 0; n < 50_000; n++) {
      let text = '';
      const length = Math.floor(next() * 12);
      for (let i = 0; i < length; i++) text += pool[Math.floor(next() * pool.length)];
      sameHex(text);
    }
  });
});

describe('parseStrictJson against the reader it replaced', () => {
  const texts = tokens.flatMap((t) => [
    JSON.stringify(t),
    JSON.stringify(t, null, 2),
    JSON.stringify({ paymentData: t, transactionIdentifier: 'AB' }),
  ]);

  test('real and minted tokens, compact and pretty-printed, parse to the same value', () => {
    for (const text of texts) sameJson(text);
  });

  test('every single-character mutation of a token (structure, strings, whitespace)', () => {
    let count = 0;
    for (const text of [texts[0]!, texts[1]!, texts[2]!, texts.at(-3)!]) {
      const positions = indices(text.length).filter((i) => i < 200 || i >= text.length - 100 || i % 97 === 0);
      for (const m of mutations(text, positions)) {
        sameJson(m);
        count++;
      }
    }
    expect(count).toBeGreaterThan(40_000);
  });

  test('escapes before, inside and after long strings; control characters anywhere', () => {
    const long = 'Q'.repeat(400);
    const cases = [
      `{"a":"${long}","b":"x\\ny"}`,
      `{"a":"x\\ny","b":"${long}"}`,
      `{"a":"${long}\\u0041","b":"${long}"}`,
      `{"a":"${long}\\","b":"${long}"}`,
      `{"a":"${long}\u0001","b":"\\t"}`,
      `{"a":"\\t","b":"${long}\u001f"}`,
      `{\n"a":"${long}",\n"b":"${long}\u0001"\n}`,
      `{\n"a":"${long}",\n"b":"${long}"\n}`,
      `{"a":"${long}","b":"\\ud800\\udc00\\u00e9"}`,
      `{"a":"${long}","b":"\\uZZZZ"}`,
      `{"a":"${long}","b":"\\u12"}`,
      `{"a":"${long}","b":\t1.5e3,"c":[-0,0.1,1e-400,1e400]}`,
      `{"a":"${long}","b":01}`,
      `["${long}",${'['.repeat(12)}]`,
      `{"a":"${long}","a":1}`,
      `{"a":"${long}","__proto__":1}`,
      `{"a":"${long}\u0000"`,
      `"${long}\\"`,
      `"${long}`,
      `{"a":"x\\ny","b":"p\\tq","c":"${long}\\/","d":"plain","e":"\\"\\\\"}`,
    ];
    for (const text of cases) sameJson(text);
    // Escapes in several strings, with plain strings between them, every position mutated.
    const escaped = JSON.stringify({ a: 'x\ny', b: 'plain', c: `${long}"é\u2028`, d: ['\t', 'q', '\\/'], e: { f: '\u0001"' } });
    for (const m of mutations(
      escaped,
      indices(escaped.length).filter((i) => i < 80 || i > 400),
    ))
      sameJson(m);
    const next = random(7);
    const pool = '{}[],:"\\ \n\t0123456789-+.eEtrufalsn"abQ\u0001\u001f\u2028';
    for (let n = 0; n < 40_000; n++) {
      let text = '';
      const length = Math.floor(next() * 40);
      for (let i = 0; i < length; i++) text += pool[Math.floor(next() * pool.length)];
      sameJson(text);
      sameJson(`{"pad":"${long}",${text}`);
    }
  });
});
