// A test root is visible: a verifier configured with one reports environment "test" in every result and
// in every diagnostics event (success or failure), so a test root deployed by mistake shows in the first
// log line. Result.environment and the event field come with issue 14's work; these assertions are the
// test kit's side of that contract.
import diagnostics_channel from 'node:diagnostics_channel';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, VERIFY_CHANNEL_NAME, type Result, type Verifier } from 'applepay-verify';
import { createTestPki, mintToken, mutators, testVerifierOptions, type TestPki } from 'applepay-verify/testing';

let pki: TestPki;
let verifier: Verifier;
const events: Record<string, unknown>[] = [];
const listener = (message: unknown): void => {
  events.push(message as Record<string, unknown>);
};

beforeAll(() => {
  pki = createTestPki();
  verifier = createVerifier(testVerifierOptions(pki));
});

afterEach(() => {
  diagnostics_channel.unsubscribe(VERIFY_CHANNEL_NAME, listener);
  events.length = 0;
});

describe('a verifier with a test root', () => {
  for (const version of ['EC_v1', 'RSA_v1'] as const) {
    it(`reports environment "test" in the result of an ${version} token`, async () => {
      const result: Result & { environment?: unknown } = await verifier.verifyAndDecrypt(mintToken(pki, { version }).paymentData);
      expect(result.environment).toBe('test');
      const sync: Result & { environment?: unknown } = verifier.verifyAndDecryptSync(mintToken(pki, { version }).paymentData);
      expect(sync.environment).toBe('test');
    });
  }

  it('reports environment "test" in the diagnostics event of a success and of a failure', async () => {
    diagnostics_channel.subscribe(VERIFY_CHANNEL_NAME, listener);
    await verifier.verifyAndDecrypt(mintToken(pki).paymentData);
    await verifier.verifyAndDecrypt(mutators.tamperedCiphertext(pki).paymentData).catch(() => undefined);
    expect(events.map((e) => [e.code, e.environment])).toEqual([
      ['OK', 'test'],
      ['SIGNATURE_INVALID', 'test'],
    ]);
  });
});
