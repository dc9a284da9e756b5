// Apple's order decides which code a token with several faults gets: certificates, then the signature,
// then the signing time, then the merchant key, then decryption. There is one path: a synchronous plan
// (everything up to the public-key work, with a refusal recorded rather than thrown) and one native
// token operation that checks the signature and, unless a refusal is pending, decrypts; run inline by
// the sync API and on the thread pool by the async one. A diagnostics subscriber only reads the
// phase timings that call reports, so every case runs with and without one, on both APIs.
import diagnostics_channel from 'node:diagnostics_channel';
import { describe, expect, test } from 'vitest';
import { VERIFY_CHANNEL_NAME, type ErrorCode } from '../../lib/index.js';
import { mint, pki, testVerifier } from '../support/helpers.js';

const listener = (): void => {};

describe.each([
  ['no subscriber', false],
  ['diagnostics subscriber', true],
])('%s', (_name, subscribed) => {
  const verifier = testVerifier();
  const withPath = async (run: () => Promise<unknown>): Promise<unknown> => {
    if (subscribed) diagnostics_channel.subscribe(VERIFY_CHANNEL_NAME, listener);
    try {
      return await run();
    } finally {
      if (subscribed) diagnostics_channel.unsubscribe(VERIFY_CHANNEL_NAME, listener);
    }
  };
  const expectCode = async (token: unknown, now: Date | undefined, code: ErrorCode) => {
    await withPath(() => expect(verifier.verifyAndDecrypt(token, now === undefined ? {} : { now })).rejects.toMatchObject({ code }));
    await withPath(async () =>
      expect(() => verifier.verifyAndDecryptSync(token, now === undefined ? {} : { now })).toThrow(expect.objectContaining({ code })),
    );
  };
  const p = pki();
  const badlySigned = (extra: Parameters<typeof mint>[0]) =>
    mint({ ...extra, signer: { certDer: extra.version === 'EC_v1' ? p.leafEc.certDer : p.leafRsa.certDer, key: p.merchants.ec.key } });

  test.each(['EC_v1', 'RSA_v1'] as const)('%s: a bad signature outranks a stale signing time', async (version) => {
    const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
    const token = badlySigned({ version, signingTime }).paymentData;
    await expectCode(token, undefined, 'SIGNATURE_INVALID');
    await expectCode(mint({ version, signingTime }).paymentData, undefined, 'SIGNING_TIME_TOO_OLD');
  });

  test('a bad signature outranks an unknown merchant key and a bad ephemeral key', async () => {
    await expectCode(badlySigned({ version: 'EC_v1', merchant: 'ecRotated' }).paymentData, undefined, 'SIGNATURE_INVALID');
    const offCurve = Buffer.from(mint({ version: 'EC_v1' }).paymentData.header.ephemeralPublicKey!, 'base64');
    offCurve[90]! ^= 1;
    await expectCode(badlySigned({ version: 'EC_v1', ephemeralPublicKeyOverride: offCurve }).paymentData, undefined, 'SIGNATURE_INVALID');
    await expectCode(mint({ version: 'EC_v1', ephemeralPublicKeyOverride: offCurve }).paymentData, undefined, 'EPHEMERAL_KEY_INVALID');
  });

  test('a stale signing time outranks an unknown merchant key', async () => {
    const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
    await expectCode(mint({ version: 'EC_v1', signingTime, merchant: 'ecRotated' }).paymentData, undefined, 'SIGNING_TIME_TOO_OLD');
  });

  test.each(['EC_v1', 'RSA_v1'] as const)(
    '%s: a messageDigest that does not match the token outranks a bad signature, a stale signing time and an unknown merchant key',
    async (version) => {
      const digestMessage = 'the signed message digest does not match the token';
      const expectDigest = async (token: unknown): Promise<void> => {
        const match = { code: 'SIGNATURE_INVALID', message: digestMessage };
        await withPath(() => expect(verifier.verifyAndDecrypt(token)).rejects.toMatchObject(match));
        await withPath(async () => expect(() => verifier.verifyAndDecryptSync(token)).toThrow(expect.objectContaining(match)));
      };
      const messageDigestOverride = Buffer.alloc(32, 7);
      const stale = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
      await expectDigest(mint({ version, cms: { messageDigestOverride } }).paymentData);
      await expectDigest(mint({ version, signingTime: stale, cms: { messageDigestOverride } }).paymentData);
      // A merchant key the verifier does not hold (the test PKI's spare is an EC key).
      if (version === 'EC_v1') await expectDigest(mint({ version, merchant: 'ecRotated', cms: { messageDigestOverride } }).paymentData);
      // Signed with another key as well (an RSA_v1 token signed so names the wrong algorithm, which its parse refuses first).
      if (version === 'EC_v1') await expectDigest(badlySigned({ version, signingTime: stale, cms: { messageDigestOverride } }).paymentData);
    },
  );

  test('valid tokens pass on both APIs, EC_v1 and RSA_v1', async () => {
    for (const version of ['EC_v1', 'RSA_v1'] as const) {
      const m = mint({ version });
      const result = (await withPath(() => verifier.verifyAndDecrypt(m.paymentData))) as { payment: unknown };
      expect(result.payment).toEqual(m.expected.payment);
      const sync = (await withPath(async () => verifier.verifyAndDecryptSync(m.paymentData))) as { payment: unknown };
      expect(sync.payment).toEqual(m.expected.payment);
    }
  });
});
