// Spec sections 4 and 5, delegated to the addon: restore the symmetric key and open the ciphertext.
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

export function decryptSync(merchant: Merchant, token: ParsedToken): Buffer {
  try {
    return token.version === 'EC_v1'
      ? native.decryptEC(merchant.key, token.keyMaterial, merchant.merchantIdentifierHash, token.data)
      : native.decryptRSA(merchant.key, token.keyMaterial, token.data);
  } catch (err) {
    throw mapNativeError(err);
  }
}

export async function decryptAsync(merchant: Merchant, token: ParsedToken): Promise<Buffer> {
  try {
    return await (token.version === 'EC_v1'
      ? native.decryptECAsync(merchant.key, token.keyMaterial, merchant.merchantIdentifierHash, token.data)
      : native.decryptRSAAsync(merchant.key, token.keyMaterial, token.data));
  } catch (err) {
    throw mapNativeError(err);
  }
}

export function verifyAndDecryptSync(signer: SignerInfo, chain: Chain, merchant: Merchant, token: ParsedToken): Buffer {
  try {
    return token.version === 'EC_v1'
      ? native.verifyAndDecryptEC(
          chain.signerKey!,
          signer.signedAttributes,
          signer.signature,
          merchant.key,
          token.keyMaterial,
          merchant.merchantIdentifierHash,
          token.data,
        )
      : native.verifyAndDecryptRSA(
          chain.signerKey!,
          signer.signedAttributes,
          signer.signature,
          merchant.key,
          token.keyMaterial,
          token.data,
        );
  } catch (err) {
    throw mapNativeError(err);
  }
}

export async function verifyAndDecryptAsync(signer: SignerInfo, chain: Chain, merchant: Merchant, token: ParsedToken): Promise<Buffer> {
  try {
    return await (token.version === 'EC_v1'
      ? native.verifyAndDecryptECAsync(
          chain.signerKey!,
          signer.signedAttributes,
          signer.signature,
          merchant.key,
          token.keyMaterial,
          merchant.merchantIdentifierHash,
          token.data,
        )
      : native.verifyAndDecryptRSAAsync(
          chain.signerKey!,
          signer.signedAttributes,
          signer.signature,
          merchant.key,
          token.keyMaterial,
          token.data,
        ));
  } catch (err) {
    throw mapNativeError(err);
  }
}
