// Every verification publishes its outcome and step timings on diagnostics_channel, without secrets.
import diagnostics_channel from 'node:diagnostics_channel';
import { afterEach, expect, test } from 'vitest';
import { VERIFY_CHANNEL_NAME, type VerifyEvent } from '../../lib/index.js';
import { mint, testVerifier } from '../support/helpers.js';

const events: VerifyEvent[] = [];
const listener = (message: unknown): void => {
  events.push(message as VerifyEvent);
};

afterEach(() => {
  diagnostics_channel.unsubscribe(VERIFY_CHANNEL_NAME, listener);
  events.length = 0;
});

test('success and failure events carry code, version, duration and steps, and nothing secret', async () => {
  diagnostics_channel.subscribe(VERIFY_CHANNEL_NAME, listener);
  const verifier = testVerifier();
  const ok = mint({ version: 'EC_v1' });
  await verifier.verifyAndDecrypt(ok.paymentData);
  verifier.verifyAndDecryptSync(mint({ version: 'RSA_v1' }).paymentData);
  await expect(verifier.verifyAndDecrypt(mint({ version: 'EC_v1', signingTime: null }).paymentData)).rejects.toBeDefined();
  await expect(verifier.verifyAndDecrypt('not json')).rejects.toBeDefined();

  expect(events.map((e) => [e.ok, e.code, e.version])).toEqual([
    [true, 'OK', 'EC_v1'],
    [true, 'OK', 'RSA_v1'],
    [false, 'SIGNING_TIME_MISSING', 'EC_v1'],
    [false, 'TOKEN_MALFORMED', undefined],
  ]);
  expect(Object.keys(events[0]!.steps)).toEqual(['parse', 'chain', 'signature', 'decrypt', 'payment']);
  for (const e of events) {
    expect(e.durationMs).toBeGreaterThan(0);
    for (const ms of Object.values(e.steps)) expect(ms).toBeGreaterThanOrEqual(0);
  }
  const text = JSON.stringify(events);
  const payment = ok.expected.payment as { applicationPrimaryAccountNumber: string; paymentData: { onlinePaymentCryptogram: string } };
  expect(text).not.toContain(payment.applicationPrimaryAccountNumber);
  expect(text).not.toContain(payment.paymentData.onlinePaymentCryptogram);
  expect(text).not.toContain(ok.expected.transactionId);
});

test('no subscriber, no event and no timing work', async () => {
  const verifier = testVerifier();
  await verifier.verifyAndDecrypt(mint({ version: 'EC_v1' }).paymentData);
  expect(events).toEqual([]);
});
