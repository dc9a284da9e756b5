// Every way verification can fail, as a closed list of string codes.
//
// A code identifies a failure permanently: callers switch on it, alert on it and count it, so a code
// is never renamed, reused for another meaning or removed. Messages may be reworded at any time and
// are written to be safe in logs: they never contain key material, the PAN, the cryptogram, decrypted
// data, or token bytes.

export const ERROR_CODES = [
  'CONFIG_INVALID',
  'MERCHANT_CERT_INVALID',
  'MERCHANT_KEY_INVALID',
  'ROOT_CERT_INVALID',
  'TOKEN_MALFORMED',
  'TOKEN_TOO_LARGE',
  'UNSUPPORTED_VERSION',
  'SIGNATURE_MALFORMED',
  'SIGNATURE_INVALID',
  'SIGNING_TIME_MISSING',
  'SIGNING_TIME_TOO_OLD',
  'SIGNING_TIME_IN_FUTURE',
  'LEAF_CERT_INVALID',
  'INTERMEDIATE_CERT_INVALID',
  'CHAIN_UNTRUSTED',
  'CERT_EXPIRED',
  'MERCHANT_KEY_NOT_FOUND',
  'EPHEMERAL_KEY_INVALID',
  'DECRYPTION_FAILED',
  'PAYLOAD_INVALID',
  'REPLAY_DETECTED',
  'REPLAY_STORE_UNAVAILABLE',
  'INTERNAL',
  'SANDBOX_TOKEN_REFUSED',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * What a failure means for the caller, and so how a payment endpoint answers it. Defined once, here,
 * so that an HTTP handler, the CLI, the vector runner and the docs cannot disagree:
 *
 * - `malformed`: not an Apple Pay token this library can read (the client sent something else): 400.
 * - `rejected`: a readable token that fails a check of Apple's procedure: refuse the payment, 422.
 * - `replayed`: this transactionId was already accepted: do not charge again, 409.
 * - `unavailable`: nothing is known yet (the replay store cannot answer): the customer's retry must
 *   succeed once it can, 503.
 * - `configuration`: the verifier's own keys, certificates or options are wrong: our fault, found at
 *   start-up, 500.
 * - `internal`: a bug or a fault, never a verdict on the token, 500.
 */
export type ErrorFamily = 'malformed' | 'rejected' | 'replayed' | 'unavailable' | 'configuration' | 'internal';

/** A Record over every code: a code added above does not compile until its family is decided. */
export const ERROR_FAMILIES: Readonly<Record<ErrorCode, ErrorFamily>> = Object.freeze({
  CONFIG_INVALID: 'configuration',
  MERCHANT_CERT_INVALID: 'configuration',
  MERCHANT_KEY_INVALID: 'configuration',
  ROOT_CERT_INVALID: 'configuration',
  TOKEN_MALFORMED: 'malformed',
  TOKEN_TOO_LARGE: 'malformed',
  UNSUPPORTED_VERSION: 'malformed',
  SIGNATURE_MALFORMED: 'rejected',
  SIGNATURE_INVALID: 'rejected',
  SIGNING_TIME_MISSING: 'rejected',
  SIGNING_TIME_TOO_OLD: 'rejected',
  SIGNING_TIME_IN_FUTURE: 'rejected',
  LEAF_CERT_INVALID: 'rejected',
  INTERMEDIATE_CERT_INVALID: 'rejected',
  CHAIN_UNTRUSTED: 'rejected',
  CERT_EXPIRED: 'rejected',
  MERCHANT_KEY_NOT_FOUND: 'rejected',
  EPHEMERAL_KEY_INVALID: 'rejected',
  DECRYPTION_FAILED: 'rejected',
  PAYLOAD_INVALID: 'rejected',
  REPLAY_DETECTED: 'replayed',
  REPLAY_STORE_UNAVAILABLE: 'unavailable',
  INTERNAL: 'internal',
  SANDBOX_TOKEN_REFUSED: 'rejected',
});

/** The HTTP status a payment endpoint answers each family with. */
export const HTTP_STATUS_BY_FAMILY: Readonly<Record<ErrorFamily, number>> = Object.freeze({
  malformed: 400,
  rejected: 422,
  replayed: 409,
  unavailable: 503,
  configuration: 500,
  internal: 500,
});

export function errorFamily(code: ErrorCode): ErrorFamily {
  return ERROR_FAMILIES[code];
}

/** The HTTP status for a code, through its family. */
export function httpStatus(code: ErrorCode): number {
  return HTTP_STATUS_BY_FAMILY[ERROR_FAMILIES[code]];
}

/** Non-secret facts about a failure, for logs and metrics. */
export interface ErrorDetails {
  /** The token field or configuration option concerned, e.g. `header.transactionId`, `merchants[1].certificate`. */
  field?: string;
  /** Which certificate a chain failure concerns. */
  certificate?: 'leaf' | 'intermediate' | 'root' | 'merchant';
  /** The signing time of the token, where it was read before the failure. */
  signingTime?: string;
  /** A size limit that was exceeded, in bytes or entries. */
  limit?: number;
}

export class ApplePayError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = 'ApplePayError';
    this.code = code;
    this.details = Object.freeze({ ...details });
  }

  /** What the failure means for the caller; see ErrorFamily. */
  get family(): ErrorFamily {
    return ERROR_FAMILIES[this.code];
  }

  toJSON(): { name: string; code: ErrorCode; message: string; details: ErrorDetails } {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }
}

export function isApplePayError(err: unknown): err is ApplePayError {
  return err instanceof ApplePayError;
}

/**
 * Turns anything thrown on the verification path into an ApplePayError. An unexpected exception is a
 * bug or a fault, never a verdict, so it becomes INTERNAL; its original text is not carried over,
 * because a third-party message may quote input bytes.
 */
export function toApplePayError(err: unknown): ApplePayError {
  if (err instanceof ApplePayError) return err;
  return new ApplePayError('INTERNAL', 'internal error during verification');
}
