// docs/token-format.md#signed-data, #signed-content, #algorithms and #signing-time: the signer is Apple's leaf, its messageDigest covers the token's
// fields, its signature covers the signed attributes, and its signing time is fresh.
import { hash } from 'node:crypto';
import { ApplePayError } from './errors.js';
import type { Chain } from './chain.js';
import type { SignerInfo } from './cms.js';
import { native } from './native.js';

/** Checks everything about the signer except the public-key operation itself. */
export function checkSigner(signer: SignerInfo, chain: Chain, signedContent: Uint8Array): void {
  const { leaf } = chain;
  if (!signer.issuer.equals(leaf.issuer) || !signer.serialNumber.equals(leaf.serialNumber)) {
    throw new ApplePayError('SIGNATURE_INVALID', 'the signer is not the leaf certificate', { field: 'signature' });
  }
  const digest = hash('sha256', signedContent, 'buffer');
  if (!digest.equals(signer.messageDigest)) {
    throw new ApplePayError('SIGNATURE_INVALID', 'the signed message digest does not match the token', { field: 'signature' });
  }
}

export function invalidSignature(): ApplePayError {
  return new ApplePayError('SIGNATURE_INVALID', 'the signature does not verify with the leaf certificate', { field: 'signature' });
}

// The addon hashes with SHA-256 and verifies by the leaf key's type: ECDSA (strict DER) for EC_v1,
// PKCS#1 v1.5 for RSA_v1. The chain check has already matched the key type to the version.
// Only `true` is a verified signature: any other value (a promise, an object from a broken binding)
// must fail closed, not pass for truthy.
export function verifySignerSync(signer: SignerInfo, chain: Chain): void {
  if (native.verifySignature(chain.signerKey!, signer.signedAttributes, signer.signature) !== true) throw invalidSignature();
}

/** The same check on libuv's thread pool. */
export async function verifySignerAsync(signer: SignerInfo, chain: Chain): Promise<void> {
  if ((await native.verifySignatureAsync(chain.signerKey!, signer.signedAttributes, signer.signature)) !== true) throw invalidSignature();
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
