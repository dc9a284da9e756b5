// lastError() is opt-in (trackLastError): a verifier that does not track never enters the
// AsyncLocalStorage whose first use turns on promise hooks for the whole process on Node 20, so its
// lastError() is null while its failures still reach the caller as ApplePayErrors.
import { expect, test } from 'vitest';
import { lastError, verifyAndDecrypt } from '../../lib/index.js';
import { mint, pki, testVerifier } from '../support/helpers.js';

const stale = () => mint({ version: 'EC_v1', signingTime: new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000) }).paymentData;

test('without trackLastError: the failure is thrown, lastError() stays null', async () => {
  const verifier = testVerifier();
  await expect(verifier.verifyAndDecrypt(stale())).rejects.toMatchObject({ code: 'SIGNING_TIME_TOO_OLD' });
  expect(verifier.lastError()).toBeNull();
  expect(lastError()).toBeNull();
  expect(() => verifier.verifyAndDecryptSync(stale())).toThrow(expect.objectContaining({ code: 'SIGNING_TIME_TOO_OLD' }));
  expect(verifier.lastError()).toBeNull();
});

test('with trackLastError: the failure of the latest verification, then null after a success', async () => {
  const verifier = testVerifier({ trackLastError: true });
  await expect(verifier.verifyAndDecrypt(stale())).rejects.toMatchObject({ code: 'SIGNING_TIME_TOO_OLD' });
  expect(verifier.lastError()).toMatchObject({ code: 'SIGNING_TIME_TOO_OLD' });
  expect(lastError()).toMatchObject({ code: 'SIGNING_TIME_TOO_OLD' });
  await verifier.verifyAndDecrypt(mint({ version: 'EC_v1' }).paymentData);
  expect(verifier.lastError()).toBeNull();
});

test('the one-shot verifyAndDecrypt tracks only when asked', async () => {
  const p = pki();
  const options = { rootCertificate: p.root.certPem, merchants: [] };
  await expect(verifyAndDecrypt(stale(), { ...options, trackLastError: true })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  expect(lastError()).toMatchObject({ code: 'CONFIG_INVALID' });
});

test('trackLastError must be a boolean', () => {
  expect(() => testVerifier({ trackLastError: 'yes' as unknown as boolean })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
});
