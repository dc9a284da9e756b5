// The real tokens verify and decrypt with the clock at their signing time, fail at
// today's date, and Apple's test-CA token is rejected by the chain checks.
import { describe, expect, test } from 'vitest';
import { createVerifier, lastError } from '../../lib/index.js';
import { REAL_APPLE_SETS, loadRealSet } from '../support/helpers.js';

const secondsLater = (d: Date, s: number): Date => new Date(d.getTime() + s * 1000);

describe.each(REAL_APPLE_SETS)('real token %s', (name) => {
  const set = loadRealSet(name);
  const verifier = createVerifier({ merchants: { certificate: set.certificate, privateKey: set.privateKey }, trackLastError: true });

  test('verifies and decrypts to expected.json at its signing time (async and sync)', async () => {
    const now = secondsLater(set.signingTime, 5);
    const result = await verifier.verifyAndDecrypt(set.token, { now });
    expect(result.payment).toEqual(set.expected);
    expect(result.version).toBe(set.meta.version);
    expect(result.transactionId).toBe(set.meta.transactionId.toLowerCase());
    expect(result.signingTime.toISOString()).toBe(set.signingTime.toISOString());
    expect(result.publicKeyHash).toBe(set.meta.publicKeyHash);
    expect(result.merchantIdentifierHash).toBe(set.meta.merchantIdHashHex.toLowerCase());
    expect(verifier.verifyAndDecryptSync(JSON.stringify(set.token), { now })).toEqual(result);
    expect(lastError()).toBeNull();
  });

  test('accepts the token as a JSON string, a Buffer and inside the Apple Pay JS wrapper', async () => {
    const now = secondsLater(set.signingTime, 5);
    const text = JSON.stringify(set.token);
    for (const input of [
      text,
      Buffer.from(text),
      { paymentData: set.token, transactionIdentifier: set.meta.transactionId.toUpperCase() },
    ]) {
      const result = await verifier.verifyAndDecrypt(input, { now });
      expect(result.payment).toEqual(set.expected);
    }
    if (set.fullToken !== null) {
      expect((await verifier.verifyAndDecrypt(set.fullToken, { now })).payment).toEqual(set.expected);
    }
  });

  test("is rejected at today's date (its signature is years old)", async () => {
    await expect(verifier.verifyAndDecrypt(set.token)).rejects.toMatchObject({ code: 'SIGNING_TIME_TOO_OLD' });
    expect(verifier.lastError()).toMatchObject({ code: 'SIGNING_TIME_TOO_OLD' });
  });

  test('is rejected when the clock is five minutes and one second past the signing time', async () => {
    await expect(verifier.verifyAndDecrypt(set.token, { now: secondsLater(set.signingTime, 301) })).rejects.toMatchObject({
      code: 'SIGNING_TIME_TOO_OLD',
    });
    const ok = await verifier.verifyAndDecrypt(set.token, { now: secondsLater(set.signingTime, 300) });
    expect(ok.payment).toEqual(set.expected);
  });

  test('is rejected with the clock ahead of the signing time by more than the skew', async () => {
    await expect(verifier.verifyAndDecrypt(set.token, { now: secondsLater(set.signingTime, -61) })).rejects.toMatchObject({
      code: 'SIGNING_TIME_IN_FUTURE',
    });
  });
});

describe("real token signed by Apple's test CA", () => {
  const set = loadRealSet('apple-sample-testca-2016-emv');
  const verifier = createVerifier({ merchants: { certificate: set.certificate, privateKey: set.privateKey }, trackLastError: true });

  test('is rejected by the certificate checks even at its signing time', async () => {
    // Its leaf lacks the marker OID and its chain ends in "Test Apple Root CA - ECC".
    await expect(verifier.verifyAndDecrypt(set.token, { now: secondsLater(set.signingTime, 5) })).rejects.toMatchObject({
      code: 'LEAF_CERT_INVALID',
    });
  });
});
