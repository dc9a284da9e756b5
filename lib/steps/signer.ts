// docs/token-format.md#signed-data, #signed-content, #algorithms and #signing-time: the signer is Apple's leaf, its messageDigest covers the token's
// fields, its signature covers the signed attributes, and its signing time is fresh.
import { ApplePayError } from '../errors.js';
import type { Chain } from './chain.js';
import { signerNames, type SignerInfo } from './signed-data.js';

/**
 * The signer must be the leaf. The pipeline checks the messageDigest inside the native token operation
 * (ERR_DIGEST, mapped to digestMismatch()), before the signature.
 */
export function checkSignerIsLeaf(signer: SignerInfo, chain: Chain): void {
  const { leaf } = chain;
  if (!signerNames(signer, leaf.issuer, leaf.serialNumber)) {
    throw new ApplePayError('SIGNATURE_INVALID', 'the signer is not the leaf certificate', { field: 'signature' });
  }
}

export function digestMismatch(): ApplePayError {
  return new ApplePayError('SIGNATURE_INVALID', 'the signed message digest does not match the token', { field: 'signature' });
}

export function invalidSignature(): ApplePayError {
  return new ApplePayError('SIGNATURE_INVALID', 'the signature does not verify with the leaf certificate', { field: 'signature' });
}

export interface FreshnessPolicy {
  /** Milliseconds a signature may be old. */
  readonly maxSignatureAge: number;
  /** Milliseconds a signing time may lie in the future (clock skew between device and server). */
  readonly maxClockSkew: number;
}

/** The freshness failure of a signing time, or null when it is within the window. */
export function freshnessProblem(signingTime: Date, now: Date, policy: FreshnessPolicy): ApplePayError | null {
  const age = now.getTime() - signingTime.getTime();
  if (age > policy.maxSignatureAge) {
    return new ApplePayError('SIGNING_TIME_TOO_OLD', `the token was signed more than ${policy.maxSignatureAge / 1000} s ago`, {
      signingTime: signingTime.toISOString(),
    });
  }
  if (-age > policy.maxClockSkew) {
    return new ApplePayError(
      'SIGNING_TIME_IN_FUTURE',
      `the token's signing time is more than ${policy.maxClockSkew / 1000} s in the future`,
      {
        signingTime: signingTime.toISOString(),
      },
    );
  }
  return null;
}
