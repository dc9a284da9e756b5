// docs/token-format.md#token-fields: reads `paymentData` (or Apple Pay JS's wrapper around it) from a string, a Buffer or
// an already-parsed object, and decodes every field strictly. Nothing here is trusted yet: the
// signature covers the decoded bytes, which is why their decoding must be canonical.
import { ApplePayError } from '../errors.js';
import { decodeBase64, decodeHex } from '../codec/encoding.js';
import { JsonError, MemberNames, parseStrictJson } from '../codec/json.js';

export type TokenVersion = 'EC_v1' | 'RSA_v1';
export const TOKEN_VERSIONS: readonly TokenVersion[] = ['EC_v1', 'RSA_v1'];

export interface ParsedToken {
  readonly version: TokenVersion;
  readonly data: Buffer;
  readonly signature: Buffer;
  /** EC_v1: DER SubjectPublicKeyInfo; RSA_v1: the OAEP-wrapped AES key. */
  readonly headerKey: Buffer;
  readonly publicKeyHash: Buffer;
  /** The header's publicKeyHash text: canonical base64, so equal to the bytes' own encoding. */
  readonly publicKeyHashText: string;
  /** Lower-case hex, as the token's case may vary. */
  readonly transactionId: string;
  readonly transactionIdBytes: Buffer;
  readonly applicationData: string | undefined;
  readonly applicationDataBytes: Buffer | undefined;
}

export interface TokenLimits {
  /** Largest token accepted, in bytes of JSON (or UTF-16 code units for a string). */
  readonly maxTokenBytes: number;
  /** Largest decoded `signature`; real ones are 2.2-2.6 KB. */
  readonly maxSignatureBytes: number;
}

export const DEFAULT_TOKEN_LIMITS: TokenLimits = { maxTokenBytes: 64 * 1024, maxSignatureBytes: 8 * 1024 };

/** Every transactionId Apple issues is 32 bytes (64 hex digits); docs/hostile-input.md says why it is pinned. */
export const TRANSACTION_ID_BYTES = 32;
/** applicationData is the SHA-256 of the merchant's request data. */
export const APPLICATION_DATA_BYTES = 32;
/** The members of paymentData; an object with these beside a `paymentData` member can be read two ways. */
const PAYMENT_DATA_MEMBERS = ['version', 'data', 'signature', 'header'];

/** Members of Apple Pay JS's wrapper; on an object without `paymentData` they would be read beside the header. */
const WRAPPER_MEMBERS = ['transactionIdentifier', 'paymentMethod'];

/** The members of the header (docs/token-format.md#token-fields). */
const HEADER_MEMBERS = ['ephemeralPublicKey', 'wrappedKey', 'publicKeyHash', 'transactionId', 'applicationData'];
/** The members of Apple Pay JS's paymentMethod. */
const PAYMENT_METHOD_MEMBERS = ['displayName', 'network', 'type'];

/** What the token reader asks of the strict JSON reader. */
export const TOKEN_JSON_OPTIONS = {
  maxDepth: 8,
  maxEntries: 64,
  memberNames: new MemberNames([...PAYMENT_DATA_MEMBERS, ...HEADER_MEMBERS, 'paymentData', ...WRAPPER_MEMBERS, ...PAYMENT_METHOD_MEMBERS]),
};
const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'];
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function malformed(message: string, field?: string): ApplePayError {
  return new ApplePayError('TOKEN_MALFORMED', message, field === undefined ? {} : { field });
}

export function parseToken(input: unknown, limits: TokenLimits): ParsedToken {
  return readPaymentData(toObject(input, limits), limits);
}

function toObject(input: unknown, limits: TokenLimits): Record<string, unknown> {
  let value: unknown;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const size = typeof input === 'string' ? input.length : input.byteLength;
    if (size > limits.maxTokenBytes) {
      throw new ApplePayError('TOKEN_TOO_LARGE', `token exceeds ${limits.maxTokenBytes} bytes`, { limit: limits.maxTokenBytes });
    }
    let text: string;
    if (typeof input === 'string') {
      text = input;
    } else {
      try {
        text = UTF8.decode(input);
      } catch {
        throw malformed('token is not valid UTF-8');
      }
    }
    try {
      value = parseStrictJson(text, TOKEN_JSON_OPTIONS);
    } catch (err) {
      if (err instanceof JsonError) throw malformed(`token is not acceptable JSON: ${err.message} at offset ${err.offset}`);
      throw err;
    }
  } else {
    value = input;
    checkParsedObject(value, 0, limits);
  }
  if (!isRecord(value)) throw malformed('token is not a JSON object');
  // Apple Pay JS hands the server { paymentData, paymentMethod, transactionIdentifier }.
  if ('paymentData' in value) {
    const wrapper = value;
    // A wrapper that is also a paymentData would be verified as one thing and read by the application as
    // another (the inner header's transactionId checked, the outer one logged or stored).
    if (PAYMENT_DATA_MEMBERS.some((member) => member in wrapper)) {
      throw malformed('token is both a paymentData and a wrapper around one', 'paymentData');
    }
    const paymentData = wrapper.paymentData;
    if (!isRecord(paymentData)) throw malformed('paymentData is not an object', 'paymentData');
    if ('paymentData' in paymentData) throw malformed('paymentData holds another paymentData', 'paymentData.paymentData');
    const header = paymentData.header;
    const outerId = wrapper.transactionIdentifier;
    if (outerId !== undefined) {
      if (typeof outerId !== 'string') throw malformed('transactionIdentifier is not a string', 'transactionIdentifier');
      // It repeats header.transactionId in upper case; two different ids mean the parts do not belong together.
      if (isRecord(header) && typeof header.transactionId === 'string' && outerId.toLowerCase() !== header.transactionId.toLowerCase()) {
        throw malformed('transactionIdentifier does not match header.transactionId', 'transactionIdentifier');
      }
    }
    return paymentData;
  }
  if (WRAPPER_MEMBERS.some((member) => member in value)) {
    throw malformed('token carries wrapper members but no paymentData', 'paymentData');
  }
  return value;
}

// An object handed over already parsed has lost its duplicate keys, but can still carry prototype keys
// (JSON.parse makes "__proto__" an own property), cycles, or absurd nesting.
function checkParsedObject(value: unknown, depth: number, limits: TokenLimits): void {
  if (value === null || typeof value !== 'object') return;
  if (depth > TOKEN_JSON_OPTIONS.maxDepth) throw malformed('token nested too deeply');
  if (Array.isArray(value)) {
    if (value.length > TOKEN_JSON_OPTIONS.maxEntries) throw malformed('token array too long');
    for (const v of value) checkParsedObject(v, depth + 1, limits);
    return;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) throw malformed('token holds a value that is not plain JSON');
  const keys = Object.keys(value);
  if (keys.length > TOKEN_JSON_OPTIONS.maxEntries) throw malformed('token object has too many keys');
  for (const key of keys) {
    if (FORBIDDEN_KEYS.includes(key)) throw malformed('token holds a forbidden key');
    const v = (value as Record<string, unknown>)[key];
    if (typeof v === 'string' && v.length > limits.maxTokenBytes) {
      throw new ApplePayError('TOKEN_TOO_LARGE', `token field exceeds ${limits.maxTokenBytes} bytes`, {
        field: key,
        limit: limits.maxTokenBytes,
      });
    }
    checkParsedObject(v, depth + 1, limits);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function requireString(obj: Record<string, unknown>, key: string, field: string): string {
  const v = obj[key];
  if (v === undefined) throw malformed(`${field} is missing`, field);
  if (typeof v !== 'string') throw malformed(`${field} is not a string`, field);
  return v;
}

// The field's text is read once by the caller (it may keep it), then decoded here.
function base64Text(text: string, field: string): Buffer {
  const bytes = decodeBase64(text);
  if (bytes === null) throw malformed(`${field} is not canonical base64`, field);
  return bytes;
}

function base64Field(obj: Record<string, unknown>, key: string, field: string): Buffer {
  return base64Text(requireString(obj, key, field), field);
}

function hexText(text: string, field: string): Buffer {
  const bytes = decodeHex(text);
  if (bytes === null) throw malformed(`${field} is not hex`, field);
  return bytes;
}

function readPaymentData(pd: Record<string, unknown>, limits: TokenLimits): ParsedToken {
  const versionText = requireString(pd, 'version', 'version');
  if (versionText !== 'EC_v1' && versionText !== 'RSA_v1') {
    throw new ApplePayError('UNSUPPORTED_VERSION', 'token version is not EC_v1 or RSA_v1', { field: 'version' });
  }
  const version: TokenVersion = versionText;
  const header = pd.header;
  if (!isRecord(header)) throw malformed(header === undefined ? 'header is missing' : 'header is not an object', 'header');

  const signatureText = requireString(pd, 'signature', 'signature');
  // Cap before decoding: the ASN.1 work that follows grows with the size.
  if (signatureText.length > Math.ceil(limits.maxSignatureBytes / 3) * 4) {
    throw new ApplePayError('TOKEN_TOO_LARGE', `signature exceeds ${limits.maxSignatureBytes} bytes`, {
      field: 'signature',
      limit: limits.maxSignatureBytes,
    });
  }
  const signature = base64Text(signatureText, 'signature');
  // The text cap above rounds up to whole base64 quanta; the decoded size is the contract.
  if (signature.length > limits.maxSignatureBytes) {
    throw new ApplePayError('TOKEN_TOO_LARGE', `signature exceeds ${limits.maxSignatureBytes} bytes`, {
      field: 'signature',
      limit: limits.maxSignatureBytes,
    });
  }
  const data = base64Field(pd, 'data', 'data');
  // Ciphertext and a 16-byte GCM tag: an empty plaintext is not a payment.
  if (data.length < 17) throw malformed('data is too short to hold a ciphertext and its tag', 'data');

  let headerKey: Buffer;
  if (version === 'EC_v1') {
    if ('wrappedKey' in header) throw malformed('an EC_v1 header must not carry wrappedKey', 'header.wrappedKey');
    headerKey = base64Field(header, 'ephemeralPublicKey', 'header.ephemeralPublicKey');
    if (headerKey.length === 0 || headerKey.length > 512) {
      throw malformed('ephemeralPublicKey has an impossible length', 'header.ephemeralPublicKey');
    }
  } else {
    if ('ephemeralPublicKey' in header) throw malformed('an RSA_v1 header must not carry ephemeralPublicKey', 'header.ephemeralPublicKey');
    headerKey = base64Field(header, 'wrappedKey', 'header.wrappedKey');
    if (headerKey.length < 256 || headerKey.length > 1024) {
      throw malformed('wrappedKey has an impossible length', 'header.wrappedKey');
    }
  }

  // Read once: the text is kept (it names the merchant key), and an object handed over already
  // parsed could answer a second read differently.
  const publicKeyHashText = requireString(header, 'publicKeyHash', 'header.publicKeyHash');
  const publicKeyHash = base64Text(publicKeyHashText, 'header.publicKeyHash');
  if (publicKeyHash.length !== 32) throw malformed('publicKeyHash is not a SHA-256 hash', 'header.publicKeyHash');

  const transactionIdText = requireString(header, 'transactionId', 'header.transactionId');
  const transactionIdBytes = hexText(transactionIdText, 'header.transactionId');
  // The signed content is a plain concatenation ending in transactionId ‖ applicationData, so only fixed
  // lengths keep its boundaries where Apple put them: a 64-byte transactionId could be a genuine one with
  // the applicationData moved into it, a new id for the replay guard on the same payment.
  if (transactionIdBytes.length !== TRANSACTION_ID_BYTES) {
    throw malformed(`transactionId is not ${TRANSACTION_ID_BYTES} bytes`, 'header.transactionId');
  }

  let applicationDataBytes: Buffer | undefined;
  let applicationData: string | undefined;
  if (header.applicationData !== undefined) {
    const text = requireString(header, 'applicationData', 'header.applicationData');
    const bytes = hexText(text, 'header.applicationData');
    if (bytes.length !== APPLICATION_DATA_BYTES) throw malformed('applicationData is not a SHA-256 hash', 'header.applicationData');
    applicationDataBytes = bytes;
    // Valid hex of either case: the lower-cased text is the hex of its bytes, without encoding them again.
    applicationData = text.toLowerCase();
  }

  return {
    version,
    data,
    signature,
    headerKey,
    publicKeyHash,
    publicKeyHashText,
    transactionId: transactionIdText.toLowerCase(),
    transactionIdBytes,
    applicationData,
    applicationDataBytes,
  };
}

/** docs/token-format.md#signed-content: what the CMS signature's messageDigest covers. */
export function signedContent(token: ParsedToken): Buffer {
  const parts = [token.headerKey, token.data, token.transactionIdBytes];
  if (token.applicationDataBytes !== undefined) parts.push(token.applicationDataBytes);
  return Buffer.concat(parts);
}
