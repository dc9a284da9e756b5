// docs/token-format.md#key-derivation to #decryption, delegated to the addon: restore the symmetric key and open the ciphertext.
// Every native failure that input can cause maps to one public code; the rest is INTERNAL.
//
// On the hot path the addon verifies the signer's signature and decrypts in one call (one thread-pool
// job in the asynchronous form); it decrypts only once the signature has verified.
import type { Chain } from './chain.js';
import type { SignerInfo } from './cms.js';
import { ApplePayError } from './errors.js';
import type { Merchant } from './merchant.js';
import { isNativeError, native } from './native.js';
import { invalidSignature } from './signature.js';
import type { ParsedToken } from './token.js';

function mapNativeError(err: unknown): ApplePayError {
  if (isNativeError(err)) {
    if (err.code === 'ERR_EPHEMERAL_KEY') {
      return new ApplePayError('EPHEMERAL_KEY_INVALID', 'ephemeralPublicKey is not an uncompressed P-256 point on the curve', {
        field: 'header.ephemeralPublicKey',
      });
    }
    if (err.code === 'ERR_SIGNATURE') return invalidSignature();
    if (err.code === 'ERR_DECRYPT') {
      // One message for a bad tag, a bad OAEP block and a bad key length: no oracle.
      return new ApplePayError('DECRYPTION_FAILED', 'the payment data could not be decrypted with the merchant key');
    }
  }
  return new ApplePayError('INTERNAL', 'internal error during decryption');
}

/** Present when the addon is to verify the signer's signature before it decrypts (one native call). */
export interface SignedBy {
  readonly signer: SignerInfo;
  readonly chain: Chain;
}

// The one place that lays the token's fields out for the addon; `pool` picks the thread-pool variants.
function callNative(merchant: Merchant, token: ParsedToken, signedBy: SignedBy | null, pool: boolean): Buffer | Promise<Buffer> {
  const signature =
    signedBy === null ? null : ([signedBy.chain.signerKey!, signedBy.signer.signedAttributes, signedBy.signer.signature] as const);
  if (token.version === 'EC_v1') {
    const rest = [merchant.key, token.keyMaterial, merchant.merchantIdentifierHash, token.data] as const;
    if (signature === null) return pool ? native.decryptECAsync(...rest) : native.decryptEC(...rest);
    return pool ? native.verifyAndDecryptECAsync(...signature, ...rest) : native.verifyAndDecryptEC(...signature, ...rest);
  }
  const rest = [merchant.key, token.keyMaterial, token.data] as const;
  if (signature === null) return pool ? native.decryptRSAAsync(...rest) : native.decryptRSA(...rest);
  return pool ? native.verifyAndDecryptRSAAsync(...signature, ...rest) : native.verifyAndDecryptRSA(...signature, ...rest);
}

export function decryptSync(merchant: Merchant, token: ParsedToken, signedBy: SignedBy | null = null): Buffer {
  try {
    return callNative(merchant, token, signedBy, false) as Buffer;
  } catch (err) {
    throw mapNativeError(err);
  }
}

export async function decryptAsync(merchant: Merchant, token: ParsedToken, signedBy: SignedBy | null = null): Promise<Buffer> {
  try {
    return await callNative(merchant, token, signedBy, true);
  } catch (err) {
    throw mapNativeError(err);
  }
}
