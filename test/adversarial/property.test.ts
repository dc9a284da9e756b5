// No bit of a valid token can change without the token being refused, with a code that names the
// right family and never as an unexpected exception. Exhaustive over the header fields and over the
// CMS fields no signature covers; sampled (fast-check) over `data` and the whole signature; random
// structural damage to the JSON always ends in TOKEN_MALFORMED or TOKEN_TOO_LARGE.
//
// Flips are of decoded bytes, re-encoded canonically: flipping base64 characters would mostly test
// the canonical-base64 check, which test/unit/decoding.test.ts covers.
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import type { ErrorCode } from '../../lib/index.js';
import type { MintedToken, PaymentData } from '../../test-vectors/gen/token.js';
import { childrenOf, flipBit, tlvAt, unsignedCmsFields, verdictAsync, verdictSync, type Verdict } from '../support/hardening.js';
import { mint, pki, testVerifier } from '../support/helpers.js';

const verifier = testVerifier();
const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
// Pinned, so a slow run cannot age the tokens into SIGNING_TIME_TOO_OLD.
const now = new Date(signingTime.getTime() + 1000);
const APPLICATION_DATA = 'c0ffee'.repeat(10) + 'abcd';

const VERSIONS = ['EC_v1', 'RSA_v1'] as const;
const tokens = Object.fromEntries(
  VERSIONS.map((version) => [version, mint({ version, signingTime, applicationData: APPLICATION_DATA })]),
) as Record<(typeof VERSIONS)[number], MintedToken>;

// Everything that a damaged signature can legitimately be refused with.
const SIGNATURE_FAMILY: readonly ErrorCode[] = [
  'SIGNATURE_MALFORMED',
  'SIGNATURE_INVALID',
  'SIGNING_TIME_MISSING',
  'SIGNING_TIME_TOO_OLD',
  'SIGNING_TIME_IN_FUTURE',
  'LEAF_CERT_INVALID',
  'INTERMEDIATE_CERT_INVALID',
  'CHAIN_UNTRUSTED',
  'CERT_EXPIRED',
];

type HeaderField = 'ephemeralPublicKey' | 'wrappedKey' | 'publicKeyHash' | 'transactionId' | 'applicationData';

function withHeader(pd: PaymentData, field: HeaderField, bytes: Buffer): PaymentData {
  const encoded = field === 'transactionId' || field === 'applicationData' ? bytes.toString('hex') : bytes.toString('base64');
  return { ...pd, header: { ...pd.header, [field]: encoded } };
}

function headerBytes(pd: PaymentData, field: HeaderField): Buffer {
  const text = pd.header[field]!;
  return Buffer.from(text, field === 'transactionId' || field === 'applicationData' ? 'hex' : 'base64');
}

/** Verdict counts, with the offending positions of anything outside `allowed`. */
function tally(results: { where: string; verdict: Verdict }[], allowed: readonly ErrorCode[]) {
  const counts: Record<string, number> = {};
  const outside: string[] = [];
  for (const { where, verdict } of results) {
    const key = 'unexpected' in verdict ? `unexpected ${verdict.unexpected}` : verdict.ok ? 'ACCEPTED' : verdict.code;
    counts[key] = (counts[key] ?? 0) + 1;
    if ('unexpected' in verdict || verdict.ok || !allowed.includes(verdict.code)) outside.push(`${where}: ${key}`);
  }
  return { counts, outside };
}

test('the unmodified tokens verify (the flips below start from tokens that pass)', async () => {
  for (const version of VERSIONS) {
    const { paymentData, expected } = tokens[version];
    expect(verdictSync(verifier, paymentData, now)).toEqual({ ok: true, transactionId: expected.transactionId });
    expect(await verdictAsync(verifier, paymentData, now)).toEqual({ ok: true, transactionId: expected.transactionId });
  }
});

describe.each(VERSIONS)('%s: every single-bit flip of a header field', (version) => {
  const pd = tokens[version].paymentData;
  const keyField: HeaderField = version === 'EC_v1' ? 'ephemeralPublicKey' : 'wrappedKey';
  // The signed fields fail the messageDigest check; publicKeyHash is not signed and names no key.
  const cases: [HeaderField, ErrorCode][] = [
    [keyField, 'SIGNATURE_INVALID'],
    ['transactionId', 'SIGNATURE_INVALID'],
    ['applicationData', 'SIGNATURE_INVALID'],
    ['publicKeyHash', 'MERCHANT_KEY_NOT_FOUND'],
  ];

  test.each(cases)('%s -> %s', (field, code) => {
    const original = headerBytes(pd, field);
    const results = Array.from({ length: original.length * 8 }, (_, bit) => ({
      where: `bit ${bit}`,
      verdict: verdictSync(verifier, withHeader(pd, field, flipBit(original, bit)), now),
    }));
    const { counts, outside } = tally(results, [code]);
    expect(outside).toEqual([]);
    expect(counts).toEqual({ [code]: original.length * 8 });
  });
});

describe.each(VERSIONS)('%s: sampled bit flips of data and of the signature', (version) => {
  const pd = tokens[version].paymentData;
  const data = Buffer.from(pd.data, 'base64');
  const signature = Buffer.from(pd.signature, 'base64');

  test.prop([fc.nat({ max: data.length * 8 - 1 })], { numRuns: 300 })('data', (bit) => {
    expect(verdictSync(verifier, { ...pd, data: flipBit(data, bit).toString('base64') }, now)).toEqual({
      ok: false,
      code: 'SIGNATURE_INVALID',
    });
  });

  test.prop([fc.nat({ max: signature.length * 8 - 1 })], { numRuns: 400 })('signature (sync)', (bit) => {
    const verdict = verdictSync(verifier, { ...pd, signature: flipBit(signature, bit).toString('base64') }, now);
    expect(tally([{ where: `bit ${bit}`, verdict }], SIGNATURE_FAMILY).outside).toEqual([]);
  });

  test.prop([fc.nat({ max: signature.length * 8 - 1 })], { numRuns: 100 })('signature (async)', async (bit) => {
    const verdict = await verdictAsync(verifier, { ...pd, signature: flipBit(signature, bit).toString('base64') }, now);
    expect(tally([{ where: `bit ${bit}`, verdict }], SIGNATURE_FAMILY).outside).toEqual([]);
  });
});

describe('every bit of the CMS fields that no signature covers', () => {
  // Both SHA-256 AlgorithmIdentifier encodings occur in real tokens, so both are flipped.
  const variants = [
    { name: 'EC_v1', token: tokens.EC_v1 },
    { name: 'RSA_v1', token: tokens.RSA_v1 },
    { name: 'EC_v1, SHA-256 with NULL parameters', token: mint({ version: 'EC_v1', signingTime, cms: { digestParamsNull: true } }) },
    { name: 'EC_v1, definite lengths', token: mint({ version: 'EC_v1', signingTime, cms: { indefiniteLength: false } }) },
  ];

  test.each(variants)('$name', ({ token }) => {
    expect(verdictSync(verifier, token.paymentData, now)).toMatchObject({ ok: true });
    const cms = token.signatureDer;
    const fields = unsignedCmsFields(cms);
    expect(fields.map((f) => f.name)).toEqual([
      'ContentInfo.contentType',
      'SignedData.version',
      'SignedData.digestAlgorithms',
      'encapContentInfo.eContentType',
      'certificates[0].signatureAlgorithm',
      'certificates[1].signatureAlgorithm',
      'SignerInfo.version',
      'SignerInfo.sid',
      'SignerInfo.digestAlgorithm',
      'SignerInfo.signatureAlgorithm',
    ]);
    const results: { where: string; verdict: Verdict }[] = [];
    for (const field of fields) {
      for (let bit = field.start * 8; bit < field.end * 8; bit++) {
        const signature = flipBit(cms, bit).toString('base64');
        results.push({
          where: `${field.name} bit ${bit - field.start * 8}`,
          verdict: verdictSync(verifier, { ...token.paymentData, signature }, now),
        });
      }
    }
    const { outside } = tally(results, ['SIGNATURE_MALFORMED', 'SIGNATURE_INVALID']);
    expect(outside).toEqual([]);
    expect(results.length).toBeGreaterThan(1000);
  });

  test('the header of each certificate signature value (BIT STRING tag, length, unused-bits octet)', () => {
    // The unused-bits octet sits outside every signature, and pkijs ignores it: a flip there was
    // once accepted. Tag and length flips break the structure.
    const token = tokens.EC_v1;
    const cms = token.signatureDer;
    const results: { where: string; verdict: Verdict }[] = [];
    const offsets = certificateSignatureValueHeaders(cms);
    expect(offsets).toHaveLength(2);
    for (const { start, end } of offsets) {
      for (let bit = start * 8; bit < end * 8; bit++) {
        const signature = flipBit(cms, bit).toString('base64');
        results.push({
          where: `byte ${bit >> 3} bit ${bit & 7}`,
          verdict: verdictSync(verifier, { ...token.paymentData, signature }, now),
        });
      }
    }
    expect(tally(results, SIGNATURE_FAMILY).outside).toEqual([]);
  });
});

/** Byte ranges [tag, length..., unused-bits octet] of each certificate's signatureValue. */
function certificateSignatureValueHeaders(cms: Buffer): { start: number; end: number }[] {
  const [, explicit] = childrenOf(cms, tlvAt(cms, 0));
  const [signedData] = childrenOf(cms, explicit!);
  const certificates = childrenOf(cms, signedData!).find((t) => t.tag === 0xa0)!;
  return childrenOf(cms, certificates).map((cert) => {
    const value = childrenOf(cms, cert)[2]!;
    return { start: value.start, end: value.contentStart + 1 };
  });
}

describe('random structural damage to the JSON', () => {
  type Path = readonly string[];
  type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
  const base = tokens.EC_v1.paymentData as unknown as { [key: string]: Json };
  const REQUIRED: Path[] = [
    ['version'],
    ['data'],
    ['signature'],
    ['header'],
    ['header', 'ephemeralPublicKey'],
    ['header', 'publicKeyHash'],
    ['header', 'transactionId'],
  ];
  const ALL: Path[] = [...REQUIRED, ['header', 'applicationData']];

  type Mutation =
    | { kind: 'drop'; path: Path }
    | { kind: 'retype'; path: Path; value: Json }
    | { kind: 'nest'; path: Path; depth: number; objects: boolean }
    | { kind: 'huge'; path: Path; length: number };

  const notAString: fc.Arbitrary<Json> = fc.oneof(
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
  );
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant('drop' as const), path: fc.constantFrom(...REQUIRED) }),
    // header is the one object-valued field: any replacement lacks its required members.
    fc.record({ kind: fc.constant('retype' as const), path: fc.constantFrom(...ALL), value: notAString }),
    fc.record({
      kind: fc.constant('nest' as const),
      path: fc.constantFrom(...ALL),
      depth: fc.integer({ min: 9, max: 10_000 }),
      objects: fc.boolean(),
    }),
    fc.record({
      kind: fc.constant('huge' as const),
      path: fc.constantFrom(...ALL, ['header', 'extra'], ['extra']),
      length: fc.integer({ min: 65_537, max: 300_000 }),
    }),
  );

  // JSON.stringify recurses per level and overflows the stack long before 10,000, so text forms get a
  // placeholder that is expanded after serialisation.
  const NEST = /"@@nest:(\d+):(true|false)@@"/g;
  function expandNesting(text: string): string {
    return text.replace(NEST, (_, depth: string, objects: string) => {
      const d = Number(depth);
      return objects === 'true' ? '{"k":'.repeat(d) + '"x"' + '}'.repeat(d) : '['.repeat(d) + '"x"' + ']'.repeat(d);
    });
  }

  function apply(token: { [key: string]: Json }, m: Mutation, asText: boolean): void {
    let parent: Json | undefined = token;
    for (const key of m.path.slice(0, -1))
      parent = parent !== null && typeof parent === 'object' && !Array.isArray(parent) ? parent[key] : undefined;
    // An earlier mutation already removed or retyped the parent: the token is damaged anyway.
    if (parent === null || typeof parent !== 'object' || Array.isArray(parent) || parent === undefined) return;
    const key = m.path[m.path.length - 1]!;
    if (m.kind === 'drop') delete parent[key];
    else if (m.kind === 'retype') parent[key] = m.value;
    else if (m.kind === 'huge') parent[key] = 'A'.repeat(m.length);
    else if (asText) parent[key] = `@@nest:${m.depth}:${m.objects}@@`;
    else {
      let v: Json = 'x';
      for (let i = 0; i < m.depth; i++) v = m.objects ? { k: v } : [v];
      parent[key] = v;
    }
  }

  // Text forms only: a second copy of a key already in the text (the parser keeps neither).
  function duplicateKey(text: string, which: number): string {
    const keys = [...text.matchAll(/"(version|data|signature|header|publicKeyHash|transactionId|ephemeralPublicKey)":/g)];
    if (keys.length === 0) return text;
    const m = keys[which % keys.length]!;
    return `${text.slice(0, m.index)}"${m[1]}":0,${text.slice(m.index)}`;
  }

  // Byte sequences TextDecoder({ fatal: true }) must refuse: a lone continuation byte, an overlong
  // NUL, a UTF-16 surrogate, a code point past U+10FFFF, a truncated sequence, 0xFF.
  const INVALID_UTF8 = [[0x80], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xff]];

  test.prop(
    [
      fc.array(mutation, { minLength: 1, maxLength: 3 }),
      fc.constantFrom('object', 'text', 'buffer'),
      fc.option(fc.nat(), { nil: undefined }),
      fc.option(fc.record({ at: fc.nat(), bytes: fc.constantFrom(...INVALID_UTF8) }), { nil: undefined }),
    ],
    { numRuns: 300 },
  )(
    'dropped, retyped, nested, huge and duplicated keys and invalid UTF-8 give TOKEN_MALFORMED or TOKEN_TOO_LARGE',
    (mutations, form, duplicate, utf8) => {
      const token = structuredClone(base);
      for (const m of mutations) apply(token, m, form !== 'object');
      let input: unknown = token;
      if (form !== 'object') {
        let text = expandNesting(JSON.stringify(token));
        if (duplicate !== undefined) text = duplicateKey(text, duplicate);
        input = text;
        if (form === 'buffer') {
          let bytes = Buffer.from(text);
          if (utf8 !== undefined) {
            const at = utf8.at % (bytes.length + 1);
            bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(utf8.bytes), bytes.subarray(at)]);
          }
          input = bytes;
        }
      }
      const verdict = verdictSync(verifier, input, now);
      expect(verdict).toMatchObject({ ok: false });
      expect(['TOKEN_MALFORMED', 'TOKEN_TOO_LARGE']).toContain((verdict as { code?: string }).code);
    },
  );

  test('invalid UTF-8 alone, in an otherwise valid Buffer token, is TOKEN_MALFORMED', () => {
    // An unknown member is ignored, so the token with valid text there verifies: the refusals below
    // are about the encoding alone.
    const text = Buffer.from(JSON.stringify({ ...base, note: 'ab' }));
    const at = text.indexOf('"ab"') + 2;
    const withBytes = (bytes: number[]) => Buffer.concat([text.subarray(0, at), Buffer.from(bytes), text.subarray(at)]);
    expect(verdictSync(verifier, withBytes([0xc3, 0xa9]), now)).toMatchObject({ ok: true });
    for (const bytes of INVALID_UTF8) expect(verdictSync(verifier, withBytes(bytes), now)).toEqual({ ok: false, code: 'TOKEN_MALFORMED' });
  });

  test.prop([fc.uint8Array({ minLength: 1, maxLength: 8192 })], { numRuns: 300 })(
    'random bytes as signature give SIGNATURE_MALFORMED',
    (bytes) => {
      const verdict = verdictSync(verifier, { ...tokens.EC_v1.paymentData, signature: Buffer.from(bytes).toString('base64') }, now);
      expect(verdict).toEqual({ ok: false, code: 'SIGNATURE_MALFORMED' });
    },
  );

  test.prop([fc.integer({ min: 8200, max: 40_000 }), fc.integer({ min: 0, max: 255 })], { numRuns: 20 })(
    'random bytes over the signature cap give TOKEN_TOO_LARGE',
    (length, fill) => {
      const verdict = verdictSync(verifier, { ...tokens.EC_v1.paymentData, signature: Buffer.alloc(length, fill).toString('base64') }, now);
      expect(verdict).toEqual({ ok: false, code: 'TOKEN_TOO_LARGE' });
    },
  );
});

// Every byte of both certificates the token carries: each is signed (the TBSCertificate), is the
// signature, or is outer structure whose change breaks the certificate, so no flip may be accepted.
// The intermediate's bytes are signed by the root. The chain cache keys on the exact DER of the set
// (test/unit/chain-cache.test.ts), so a flipped certificate is always judged afresh; every 64th flip is
// also judged by a verifier of its own, which has no cache at all.
describe.each(VERSIONS)('%s: every byte of the embedded leaf and intermediate, flipped', (version) => {
  const { paymentData, signatureDer } = tokens[version];
  const p = pki();
  const certificates = { leaf: version === 'EC_v1' ? p.leafEc.certDer : p.leafRsa.certDer, intermediate: p.intermediate.certDer };

  for (const role of ['leaf', 'intermediate'] as const) {
    test(`${role}: one bit of every byte (the bit rotating with the position), and every byte complemented`, () => {
      const der = certificates[role];
      const at = signatureDer.indexOf(der);
      expect(at).toBeGreaterThan(0);
      const results: { where: string; verdict: Verdict }[] = [];
      for (let byte = 0; byte < der.length; byte++) {
        for (const mask of [0x80 >> (byte % 8), 0xff]) {
          const signature = Buffer.from(signatureDer);
          signature[at + byte]! ^= mask;
          const token = { ...paymentData, signature: signature.toString('base64') };
          results.push({ where: `${role} byte ${byte} ^ ${mask.toString(16)}`, verdict: verdictSync(verifier, token, now) });
          if (byte % 64 === 0 && mask === 0xff) {
            results.push({ where: `${role} byte ${byte} (fresh verifier)`, verdict: verdictSync(testVerifier(), token, now) });
          }
        }
      }
      const { counts, outside } = tally(results, SIGNATURE_FAMILY);
      expect(outside).toEqual([]);
      expect(results.length).toBeGreaterThanOrEqual(2 * der.length);
      console.log(`${version} ${role}: ${der.length} bytes, ${results.length} flips`, counts);
    });
  }
});
