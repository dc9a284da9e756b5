// Resource bounds: inputs built to exhaust memory, stack or CPU are refused with the right code, on
// both APIs. Only verdicts are asserted here; bench/refusals.ts (npm run bench:refusals) shows how
// long each refusal takes.
import { describe, expect, test } from 'vitest';
import { hostileInputs } from '../support/hostile-inputs.js';
import { verdictAsync, verdictSync } from '../support/hardening.js';
import { mint, pki, testVerifier } from '../support/helpers.js';

const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
const now = new Date(signingTime.getTime() + 1000);
const base = mint({ version: 'EC_v1', signingTime }).paymentData;
const verifiers = new Map<number | undefined, ReturnType<typeof testVerifier>>();
const verifierFor = (maxTokenBytes: number | undefined) => {
  let v = verifiers.get(maxTokenBytes);
  if (v === undefined) {
    v = maxTokenBytes === undefined ? testVerifier() : testVerifier({ maxTokenBytes });
    verifiers.set(maxTokenBytes, v);
  }
  return v;
};

describe('hostile inputs are refused', () => {
  test('the base token verifies', () => {
    expect(verdictSync(verifierFor(undefined), base, now)).toMatchObject({ ok: true });
  });

  test.each(hostileInputs(pki(), base).map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const verifier = verifierFor(c.maxTokenBytes);
    const input = c.build(0);
    expect(verdictSync(verifier, input, now)).toEqual({ ok: false, code: c.code });
    expect(await verdictAsync(verifier, input, now)).toEqual({ ok: false, code: c.code });
    await expect(verifier.verifyAndDecrypt(input, { now })).rejects.toMatchObject({ code: c.code });
  });
});
