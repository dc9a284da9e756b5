// lib/steps/payment.ts on its own: the decrypted payment JSON (docs/token-format.md#payment-data), its known
// fields checked and typed, unknown ones passed through, anything else PAYLOAD_INVALID.
import { describe, expect, test } from 'vitest';
import { parsePayment } from '../../lib/steps/payment.js';
import { defaultPayment } from '../../test-vectors/gen/token.js';
import { expectCode } from '../support/expect-code.js';

const bytes = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

describe('parsePayment', () => {
  test('a 3DSecure payment reads back field for field, unknown fields included', () => {
    const payment = { ...defaultPayment(), someFutureField: { nested: [1, 2] } };
    expect(parsePayment(bytes(payment))).toEqual(payment);
  });

  test('an EMV payment', () => {
    const payment = {
      ...defaultPayment(),
      paymentDataType: 'EMV',
      paymentData: { emvData: Buffer.from('emv').toString('base64'), encryptedPINData: 'abcdef' },
    };
    expect(parsePayment(bytes(payment))).toMatchObject({ paymentDataType: 'EMV', paymentData: payment.paymentData });
  });

  test('known fields of the wrong shape are PAYLOAD_INVALID', () => {
    const bad: Record<string, unknown>[] = [
      { applicationPrimaryAccountNumber: '4111' },
      { applicationPrimaryAccountNumber: 4111111111111111 },
      { applicationExpirationDate: '291399' },
      { currencyCode: '84' },
      { transactionAmount: -1 },
      { transactionAmount: '100' },
      { paymentDataType: 'Other' },
    ];
    for (const change of bad) expectCode(() => parsePayment(bytes({ ...defaultPayment(), ...change })), 'PAYLOAD_INVALID');
  });

  test('plaintext that is not a JSON object, or not UTF-8, or has duplicate keys: PAYLOAD_INVALID', () => {
    const text = JSON.stringify(defaultPayment());
    for (const plaintext of [
      Buffer.from('[]'),
      Buffer.from('null'),
      Buffer.from(text.slice(0, -1)),
      Buffer.from(text.replace('{', '{"currencyCode":"978",')),
      Buffer.concat([Buffer.from(text.slice(0, -1)), Buffer.from(',"x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
      Buffer.alloc(0),
    ]) {
      expectCode(() => parsePayment(plaintext), 'PAYLOAD_INVALID');
    }
  });
});
