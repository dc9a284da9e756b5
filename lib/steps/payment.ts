// docs/token-format.md#payment-data: the decrypted payment data. The known fields are checked and typed; fields Apple
// adds later pass through untouched, so a new field never breaks payments.
import { ApplePayError } from '../errors.js';
import { JsonError, MemberNames, parseStrictJson, type JsonValue } from '../codec/json.js';
import { isCanonicalBase64 } from '../codec/encoding.js';

export interface ThreeDSecurePaymentData {
  /** Base64 cryptogram: secret, never log it. */
  onlinePaymentCryptogram: string;
  eciIndicator?: string;
  [field: string]: unknown;
}

export interface EmvPaymentData {
  emvData: string;
  encryptedPINData?: string;
  [field: string]: unknown;
}

export interface AuthenticationResponse {
  merchantIdentifier: string;
  authenticationData: string;
  transactionAmount: string | number;
  [field: string]: unknown;
}

interface PaymentCommon {
  /** Device PAN, or the merchant token's MPAN: secret, never log it. */
  applicationPrimaryAccountNumber: string;
  /** YYMMDD. */
  applicationExpirationDate: string;
  /** ISO 4217 numeric code, as a string (e.g. "840"). */
  currencyCode: string;
  /** In the currency's minor units. */
  transactionAmount: number;
  cardholderName?: string;
  deviceManufacturerIdentifier: string;
  authenticationResponses?: AuthenticationResponse[];
  merchantTokenIdentifier?: string;
  merchantTokenMetadata?: JsonValue;
  [field: string]: unknown;
}

export type Payment =
  | (PaymentCommon & { paymentDataType: '3DSecure'; paymentData: ThreeDSecurePaymentData })
  | (PaymentCommon & { paymentDataType: 'EMV'; paymentData: EmvPaymentData });

// Fatal: a payment that is not strict UTF-8 is refused, never decoded with replacement characters.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** The top-level members of the payment data that this package knows (docs/token-format.md#payment-data). */
export const PAYMENT_MEMBERS: readonly string[] = [
  'applicationPrimaryAccountNumber',
  'applicationExpirationDate',
  'currencyCode',
  'transactionAmount',
  'cardholderName',
  'deviceManufacturerIdentifier',
  'paymentDataType',
  'paymentData',
  'authenticationResponses',
  'merchantTokenIdentifier',
  'merchantTokenMetadata',
];
// Members of paymentData (3-D Secure, EMV) and of an authentication response.
const NESTED_MEMBERS = [
  'onlinePaymentCryptogram',
  'eciIndicator',
  'emvData',
  'encryptedPINData',
  'merchantIdentifier',
  'authenticationData',
];
const JSON_LIMITS = { maxDepth: 16, maxEntries: 1024, memberNames: new MemberNames([...PAYMENT_MEMBERS, ...NESTED_MEMBERS]) };

function invalid(message: string, field?: string): ApplePayError {
  return new ApplePayError('PAYLOAD_INVALID', message, field === undefined ? {} : { field });
}

type Obj = Record<string, JsonValue>;

function isObj(v: JsonValue | undefined): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// The field patterns as character checks: the same languages as the regular expressions in the
// comments, without a regular expression run per field of every payment.

// /^\d{min,max}$/
function digits(min: number, max: number): (s: string) => boolean {
  return (s) => {
    const n = s.length;
    if (n < min || n > max) return false;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return false;
    }
    return true;
  };
}

// /^[0-9A-Fa-f]+$/ (min 1) or /^[0-9A-Fa-f]*$/ (min 0)
function hexDigits(min: number): (s: string) => boolean {
  return (s) => {
    const n = s.length;
    if (n < min) return false;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66))) return false;
    }
    return true;
  };
}

const PAN = digits(12, 19);
const CURRENCY_CODE = digits(3, 3);
const ECI = digits(1, 2);
const HEX = hexDigits(1);
const HEX_OR_EMPTY = hexDigits(0);

// /^\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$/: YYMMDD with a month 01-12 and a day 01-31.
function isExpirationDate(s: string): boolean {
  if (s.length !== 6 || !digits(6, 6)(s)) return false;
  const month = (s.charCodeAt(2) - 0x30) * 10 + (s.charCodeAt(3) - 0x30);
  const day = (s.charCodeAt(4) - 0x30) * 10 + (s.charCodeAt(5) - 0x30);
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

function requireMatch(obj: Obj, key: string, test: (s: string) => boolean, what: string, prefix = ''): void {
  const v = obj[key];
  if (typeof v !== 'string' || !test(v)) throw invalid(`${prefix}${key} is missing or not ${what}`, prefix + key);
}

function optionalMatch(obj: Obj, key: string, test: (s: string) => boolean, what: string, prefix = ''): void {
  if (obj[key] !== undefined) requireMatch(obj, key, test, what, prefix);
}

function requireBase64(obj: Obj, key: string, prefix: string): void {
  const v = obj[key];
  if (typeof v !== 'string' || !isCanonicalBase64(v)) throw invalid(`${prefix}${key} is missing or not base64`, prefix + key);
}

/** Parses and checks the plaintext. Messages name fields, never their values. */
export function parsePayment(plaintext: Uint8Array): Payment {
  let value: JsonValue;
  try {
    value = parseStrictJson(UTF8.decode(plaintext), JSON_LIMITS);
  } catch (err) {
    if (err instanceof JsonError || err instanceof TypeError) throw invalid('decrypted payment data is not acceptable JSON');
    throw err;
  }
  if (!isObj(value)) throw invalid('decrypted payment data is not a JSON object');

  requireMatch(value, 'applicationPrimaryAccountNumber', PAN, 'a 12-19 digit number');
  requireMatch(value, 'applicationExpirationDate', isExpirationDate, 'a YYMMDD date');
  requireMatch(value, 'currencyCode', CURRENCY_CODE, 'an ISO 4217 numeric code');
  const amount = value.transactionAmount;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0) {
    throw invalid('transactionAmount is missing or not a non-negative integer', 'transactionAmount');
  }
  requireMatch(value, 'deviceManufacturerIdentifier', HEX, 'hex');
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
    optionalMatch(details, 'eciIndicator', ECI, 'an ECI value', 'paymentData.');
  } else if (value.paymentDataType === 'EMV') {
    requireBase64(details, 'emvData', 'paymentData.');
    optionalMatch(details, 'encryptedPINData', HEX_OR_EMPTY, 'hex', 'paymentData.');
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
