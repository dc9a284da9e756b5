// The run step's boundary with the addon (docs/token-format.md#signed-content, #signed-data,
// #key-derivation, #key-unwrap and #decryption): the one native token operation checks the signer's
// messageDigest against the signed content, then the signer's signature, and then restores the
// symmetric key and opens the ciphertext, in one call (one thread-pool job in the asynchronous form).
// Every native failure that input can cause maps to one public code; the rest is INTERNAL.
import type { Chain } from './chain.js';
import type { SignerInfo } from './signed-data.js';
import { ApplePayError } from '../errors.js';
import type { Merchant } from './merchant-key.js';
import { isNativeError, native } from '../native/binding.js';
import { digestMismatch, invalidSignature } from './signer.js';
import type { ParsedToken } from './token.js';

export function mapNativeError(err: unknown): ApplePayError {
  if (isNativeError(err)) {
    if (err.code === 'ERR_EPHEMERAL_KEY') {
      return new ApplePayError('EPHEMERAL_KEY_INVALID', 'ephemeralPublicKey is not an uncompressed P-256 point on the curve', {
        field: 'header.ephemeralPublicKey',
      });
    }
    if (err.code === 'ERR_DIGEST') return digestMismatch();
    if (err.code === 'ERR_SIGNATURE') return invalidSignature();
    if (err.code === 'ERR_DECRYPT') {
      // One message for a bad tag, a bad OAEP block and a bad key length: no oracle.
      return new ApplePayError('DECRYPTION_FAILED', 'the payment data could not be decrypted with the merchant key');
    }
  }
  return new ApplePayError('INTERNAL', 'internal error during decryption');
}

/** What the native token operation needs from a plan. */
export interface TokenJob {
  readonly token: ParsedToken;
  readonly signer: SignerInfo;
  readonly chain: Chain;
  /** Null when a refusal is pending: the addon then checks the signature only. */
  readonly merchant: Merchant | null;
}

/** Runs the token operation inline (`pool` false) or on libuv's pool; `phases` receives its durations. */
export function callToken(job: TokenJob, pool: boolean, phases: Float64Array | null): unknown {
  const { token, signer, chain, merchant } = job;
  const signerKey = chain.signerKey!;
  const applicationData = token.applicationDataBytes ?? null;
  const key = merchant === null ? null : merchant.key;
  const partyV = merchant !== null && token.version === 'EC_v1' ? merchant.partyV : null;
  return pool
    ? native.token(
        true,
        signerKey,
        signer.signedAttributes,
        signer.signature,
        key,
        token.headerKey,
        partyV,
        token.data,
        signer.messageDigest,
        token.transactionIdBytes,
        applicationData,
        phases,
      )
    : native.token(
        false,
        signerKey,
        signer.signedAttributes,
        signer.signature,
        key,
        token.headerKey,
        partyV,
        token.data,
        signer.messageDigest,
        token.transactionIdBytes,
        applicationData,
        phases,
      );
}

/**
 * What the addon returned, judged: with a refusal pending only `null` (the signature verified) lets
 * the refusal through, and otherwise only a Buffer is a plaintext. Anything else (a broken or
 * replaced binding) fails closed.
 */
export function settle(out: unknown, refusal: ApplePayError | null): Buffer {
  if (refusal !== null) {
    if (out !== null) throw new ApplePayError('INTERNAL', 'internal error during signature verification');
    throw refusal;
  }
  if (!Buffer.isBuffer(out)) throw new ApplePayError('INTERNAL', 'internal error during decryption');
  return out;
}

/** The digest and the signature (inspectToken's question), through the same native operation with no merchant key. */
export function checkSignatureSync(job: Omit<TokenJob, 'merchant'>): void {
  let out: unknown;
  try {
    out = callToken({ ...job, merchant: null }, false, null);
  } catch (err) {
    throw mapNativeError(err);
  }
  if (out !== null) throw new ApplePayError('INTERNAL', 'internal error during signature verification');
}
