// The payment check lib/steps/payment.ts replaced (a regular expression per field, base64 checked by
// a decode and re-encode round trip), kept as an oracle: the differential test
// in test/unit/payment-differential.test.ts holds the faster check to the same verdicts and messages.
import { ApplePayError } from '../../lib/errors.js';
import { decodeBase64 } from '../../lib/codec/encoding.js';
import { JsonError, parseStrictJson, type JsonValue } from '../../lib/codec/json.js';
import type { Payment } from '../../lib/steps/payment.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const JSON_LIMITS = { maxDepth: 16, maxEntries: 1024 };

function invalid(message: string, field?: string): ApplePayError {
  return new ApplePayError('PAYLOAD_INVALID', message, field === undefined ? {} : { field });
}

type Obj = Record<string, JsonValue>;

function isObj(v: JsonValue | undefined): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function requireMatch(obj: Obj, key: string, pattern: RegExp, what: string, prefix = ''): void {
  const v = obj[key];
  if (typeof v !== 'string' || !pattern.test(v)) throw invalid(`${prefix}${key} is missing or not ${what}`, prefix + key);
}

function optionalMatch(obj: Obj, key: string, pattern: RegExp, what: string, prefix = ''): void {
  if (obj[key] !== undefined) requireMatch(obj, key, pattern, what, prefix);
}

function requireBase64(obj: Obj, key: string, prefix: string): void {
  const v = obj[key];
  if (typeof v !== 'string' || v.length === 0 || decodeBase64(v) === null)
    throw invalid(`${prefix}${key} is missing or not base64`, prefix + key);
}

/** Parses and checks the plaintext. Messages name fields, never their values. */
export function referenceParsePayment(plaintext: Uint8Array): Payment {
  let value: JsonValue;
  try {
    value = parseStrictJson(UTF8.decode(plaintext), JSON_LIMITS);
  } catch (err) {
    if (err instanceof JsonError || err instanceof TypeError) throw invalid('decrypted payment data is not acceptable JSON');
    throw err;
  }
  if (!isObj(value)) throw invalid('decrypted payment data is not a JSON object');

  requireMatch(value, 'applicationPrimaryAccountNumber', /^\d{12,19}$/, 'a 12-19 digit number');
  requireMatch(value, 'applicationExpirationDate', /^\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$/, 'a YYMMDD date');
  requireMatch(value, 'currencyCode', /^\d{3}$/, 'an ISO 4217 numeric code');
  const amount = value.transactionAmount;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0) {
    throw invalid('transactionAmount is missing or not a non-negative integer', 'transactionAmount');
  }
  requireMatch(value, 'deviceManufacturerIdentifier', /^[0-9A-Fa-f]+$/, 'hex');
  if (value.cardholderName !== undefined && typeof value.cardholderName !== 'string') {
    throw invalid('cardholderName is not a string', 'cardholderName');
  }
  if (value.merchantTokenIdentifier !== undefined && typeof value.merchantTokenIdentifier !== 'string') {
    throw invalid('merchantTokenIdentifier is not a string', 'merchantTokenIdentifier');
  }

  const details = value.paymentData;
  if (!isObj(details)) throw invalid('paymentData is missing or not an object', 'paymentData');
  if (value.paymentDataType === '3DSecure') {
    requireBase64(details, 'onlinePaymentCryptogram', 'paymentData.');
    optionalMatch(details, 'eciIndicator', /^\d{1,2}$/, 'an ECI value', 'paymentData.');
  } else if (value.paymentDataType === 'EMV') {
    requireBase64(details, 'emvData', 'paymentData.');
    optionalMatch(details, 'encryptedPINData', /^[0-9A-Fa-f]*$/, 'hex', 'paymentData.');
  } else {
    throw invalid('paymentDataType is not 3DSecure or EMV', 'paymentDataType');
  }

  const responses = value.authenticationResponses;
  if (responses !== undefined) {
    if (!Array.isArray(responses)) throw invalid('authenticationResponses is not an array', 'authenticationResponses');
    for (const r of responses) {
      if (!isObj(r) || typeof r.merchantIdentifier !== 'string' || typeof r.authenticationData !== 'string') {
        throw invalid('authenticationResponses holds a malformed entry', 'authenticationResponses');
      }
    }
  }
  return value as Payment;
}
