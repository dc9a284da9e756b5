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
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

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
