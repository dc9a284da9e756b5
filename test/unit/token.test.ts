// lib/steps/token.ts on its own: the token's fields decoded strictly (docs/token-format.md#token-fields,
// #strict-decoding) and the signed content assembled from them (#signed-content).
import { describe, expect, test } from 'vitest';
import { DEFAULT_TOKEN_LIMITS, parseToken, signedContent } from '../../lib/steps/token.js';
import { mint } from '../support/helpers.js';
import { expectCode } from '../support/expect-code.js';

const parse = (input: unknown) => parseToken(input, DEFAULT_TOKEN_LIMITS);

describe('parseToken', () => {
  test('an object, its JSON text and its bytes read the same', () => {
    const token = mint({ version: 'EC_v1', applicationData: 'ab'.repeat(32) });
    const text = JSON.stringify(token.paymentData);
    const fromObject = parse(token.paymentData);
    expect(parse(text)).toEqual(fromObject);
    expect(parse(Buffer.from(text))).toEqual(fromObject);
    expect(fromObject.version).toBe('EC_v1');
    expect(fromObject.transactionId).toBe(token.expected.transactionId.toLowerCase());
    expect(fromObject.applicationData).toBe('ab'.repeat(32));
    expect(fromObject.data).toEqual(Buffer.from(token.paymentData.data, 'base64'));
  });

  for (const version of ['EC_v1', 'RSA_v1'] as const) {
    test(`${version}: the signed content is the header key, data, transactionId and applicationData`, () => {
      for (const applicationData of [undefined, 'cd'.repeat(32)]) {
        const token = mint({ version, ...(applicationData === undefined ? {} : { applicationData }) });
        expect(signedContent(parse(token.paymentData))).toEqual(token.signedContent);
      }
    });
  }

  test('transactionId in upper case reads as lower case, and signs its bytes', () => {
    const token = mint({ version: 'EC_v1', transactionId: 'AB'.repeat(32) });
    const parsed = parse(token.paymentData);
    expect(parsed.transactionId).toBe('ab'.repeat(32));
    expect(parsed.transactionIdBytes).toEqual(Buffer.from('ab'.repeat(32), 'hex'));
  });

  test('mixed-case hex reads as the lower-case hex of its bytes (transactionId and applicationData)', () => {
    const token = mint({ version: 'EC_v1', transactionId: 'aB0f'.repeat(16), applicationData: 'Cd9E'.repeat(16) });
    const parsed = parse(token.paymentData);
    expect(parsed.transactionId).toBe(parsed.transactionIdBytes.toString('hex'));
    expect(parsed.transactionId).toBe('ab0f'.repeat(16));
    expect(parsed.applicationData).toBe(parsed.applicationDataBytes!.toString('hex'));
    expect(parsed.applicationData).toBe('cd9e'.repeat(16));
  });

  test("Apple Pay JS's wrapper is unwrapped; a wrapper naming another transaction is refused", () => {
    const token = mint({ version: 'RSA_v1' });
    const id = token.expected.transactionId;
    expect(parse({ paymentData: token.paymentData, transactionIdentifier: id.toUpperCase() }).transactionId).toBe(id.toLowerCase());
    expectCode(() => parse({ paymentData: token.paymentData, transactionIdentifier: 'ff'.repeat(32) }), 'TOKEN_MALFORMED');
  });

  test('lenient encodings are refused: TOKEN_MALFORMED', () => {
    const pd = mint({ version: 'EC_v1' }).paymentData;
    const text = JSON.stringify(pd);
    const bad: unknown[] = [
      text.replace('{', '{"data":"AAAA",'), // duplicate key
      text.replace('{', '{"__proto__":{},'),
      { ...pd, data: `${pd.data}#` },
      { ...pd, data: `-_${pd.data.slice(2)}` }, // the URL-safe alphabet
      { ...pd, header: { ...pd.header, transactionId: `${pd.header.transactionId}0` } }, // odd hex
      { ...pd, header: { ...pd.header, transactionId: `${pd.header.transactionId.slice(2)}zz` } },
      { ...pd, header: { ...pd.header, publicKeyHash: Buffer.alloc(31).toString('base64') } },
      { ...pd, signature: undefined },
      'not json',
      42,
      null,
    ];
    for (const input of bad) expectCode(() => parse(input), 'TOKEN_MALFORMED');
  });

  test('an unknown version is UNSUPPORTED_VERSION; an oversized token TOKEN_TOO_LARGE', () => {
    const pd = mint({ version: 'EC_v1' }).paymentData;
    expectCode(() => parse({ ...pd, version: 'EC_v2' }), 'UNSUPPORTED_VERSION');
    expectCode(() => parse(JSON.stringify({ ...pd, pad: 'x'.repeat(DEFAULT_TOKEN_LIMITS.maxTokenBytes) })), 'TOKEN_TOO_LARGE');
    expectCode(
      () => parse({ ...pd, signature: Buffer.alloc(DEFAULT_TOKEN_LIMITS.maxSignatureBytes + 3).toString('base64') }),
      'TOKEN_TOO_LARGE',
    );
  });
});
