// Spec section 2, steps 2-4 and 8: the signer is Apple's leaf, its messageDigest covers the token's
// fields, its signature covers the signed attributes, and its signing time is fresh.
import { createHash, verify as verifySignature, type KeyObject } from 'node:crypto';
import { ApplePayError } from './errors.js';
import type { Chain } from './chain.js';
import type { SignerInfo } from './cms.js';

/** Checks everything about the signer except the public-key operation itself. */
export function checkSigner(signer: SignerInfo, chain: Chain, signedContent: Uint8Array): void {
  const { leaf } = chain;
  if (!signer.issuer.equals(leaf.issuer) || !signer.serialNumber.equals(leaf.serialNumber)) {
    throw new ApplePayError('SIGNATURE_INVALID', 'the signer is not the leaf certificate', { field: 'signature' });
  }
  const digest = createHash('sha256').update(signedContent).digest();
  if (!digest.equals(signer.messageDigest)) {
    throw new ApplePayError('SIGNATURE_INVALID', 'the signed message digest does not match the token', { field: 'signature' });
  }
}

function invalidSignature(): ApplePayError {
  return new ApplePayError('SIGNATURE_INVALID', 'the signature does not verify with the leaf certificate', { field: 'signature' });
}

// Both EC_v1 (ECDSA, DER signature) and RSA_v1 (PKCS#1 v1.5) hash with SHA-256; the key decides the rest.
export function verifySignerSync(signer: SignerInfo, leafKey: KeyObject): void {
  let ok: boolean;
  try {
    ok = verifySignature('sha256', signer.signedAttributes, leafKey, signer.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw invalidSignature();
}

/** The same check on libuv's thread pool, so a busy server verifies on every core. */
export function verifySignerAsync(signer: SignerInfo, leafKey: KeyObject): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      verifySignature('sha256', signer.signedAttributes, leafKey, signer.signature, (err, ok) => {
        if (err === null && ok) resolve();
        else reject(invalidSignature());
      });
    } catch {
      reject(invalidSignature());
    }
  });
}

export interface FreshnessPolicy {
  /** Milliseconds a signature may be old. */
  readonly maxSignatureAge: number;
  /** Milliseconds a signing time may lie in the future (clock skew between device and server). */
  readonly maxClockSkew: number;
}

export function checkFreshness(signingTime: Date, now: Date, policy: FreshnessPolicy): void {
  const age = now.getTime() - signingTime.getTime();
  if (age > policy.maxSignatureAge) {
    throw new ApplePayError('SIGNING_TIME_TOO_OLD', `the token was signed more than ${policy.maxSignatureAge / 1000} s ago`, {
      signingTime: signingTime.toISOString(),
    });
  }
  if (-age > policy.maxClockSkew) {
    throw new ApplePayError(
      'SIGNING_TIME_IN_FUTURE',
      `the token's signing time is more than ${policy.maxClockSkew / 1000} s in the future`,
      {
        signingTime: signingTime.toISOString(),
      },
    );
  }
}
