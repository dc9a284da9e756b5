// The contract between the TypeScript policy layer and the C++ mechanism in native/.
// The addon validates nothing about Apple's token format: it performs cryptographic steps on bytes
// TypeScript has already checked, and reports failures as one of a closed set of native codes.
import { lazyAddon } from './binding.js';

/**
 * Closed set of codes thrown by the addon (as `err.code` on an Error). No OpenSSL text ever crosses
 * the boundary; TypeScript maps these onto the public ApplePayError codes.
 */
export const NATIVE_CODES = [
  'ERR_ARGUMENT', // wrong JS type, size or detached buffer at the boundary: a programming error
  'ERR_KEY_DECODE', // key bytes are not PEM/DER (PKCS#8, SEC1, PKCS#1) or PKCS#12, or the passphrase is wrong
  'ERR_KEY_UNSUPPORTED', // key decoded but is neither EC P-256 nor RSA >= 2048 bits
  'ERR_EPHEMERAL_KEY', // not a named-curve P-256 SPKI carrying an uncompressed point on the curve
  'ERR_DECRYPT', // OAEP failure, wrong unwrapped-key length, bad GCM tag: deliberately indistinguishable
  'ERR_INTERNAL', // an OpenSSL failure the input cannot explain (allocation, provider)
  'ERR_SIGNATURE', // the signature does not verify with the signer key
] as const;
export type NativeCode = (typeof NATIVE_CODES)[number];

export interface NativeError extends Error {
  code: NativeCode;
}

/** A merchant private key decoded once and kept inside the addon across calls. */
export interface MerchantKeyHandle {
  readonly type: 'ec' | 'rsa';
  /** EC: 256; RSA: modulus bits. */
  readonly bits: number;
  /** DER SubjectPublicKeyInfo of the public half (SHA-256 of it is Apple's publicKeyHash). */
  readonly spki: Buffer;
  /** DER certificate that came with the key in a PKCS#12 file (the one matching the key), else null. */
  readonly certificate: Buffer | null;
}

/** A signer's public key (Apple's leaf certificate key), decoded once and cached by the caller. */
export interface SignerKeyHandle {
  readonly type: 'ec' | 'rsa';
  /** EC: 256; RSA: modulus bits. */
  readonly bits: number;
}

export interface NativeBinding {
  /** PEM (any of the key labels, encrypted PKCS#8 included), DER (PKCS#8, SEC1, PKCS#1) or PKCS#12. */
  importKey(data: Uint8Array, passphrase?: Uint8Array | null): MerchantKeyHandle;

  /** EC_v1: ECDH(P-256) -> Apple's single-step KDF -> AES-256-GCM (16-byte zero IV, 16-byte tag at the end of data). */
  decryptEC(key: MerchantKeyHandle, ephemeralPublicKey: Uint8Array, partyV: Uint8Array, data: Uint8Array): Buffer;
  decryptECAsync(key: MerchantKeyHandle, ephemeralPublicKey: Uint8Array, partyV: Uint8Array, data: Uint8Array): Promise<Buffer>;

  /** RSA_v1: RSA-OAEP(SHA-256, MGF1-SHA-256, empty label) unwrap of a 16-byte key -> AES-128-GCM. */
  decryptRSA(key: MerchantKeyHandle, wrappedKey: Uint8Array, data: Uint8Array): Buffer;
  decryptRSAAsync(key: MerchantKeyHandle, wrappedKey: Uint8Array, data: Uint8Array): Promise<Buffer>;

  /**
   * DER SubjectPublicKeyInfo, nothing after it: EC P-256 by its named-curve OID, or RSA of 2048 bits or more.
   * ERR_KEY_DECODE for bytes that are not such a structure (or trailing bytes, or an invalid point),
   * ERR_KEY_UNSUPPORTED for any other key type, curve, explicit curve parameters or RSA size.
   */
  importPublicKey(spki: Uint8Array): SignerKeyHandle;

  /**
   * The signature over SHA-256(message), by the signer's type: ECDSA with a strict-DER Ecdsa-Sig-Value
   * (r, s in [1, n-1]) or RSASSA-PKCS1-v1_5 with the SHA-256 DigestInfo. false for any signature that does
   * not verify, malformed ones included; ERR_ARGUMENT only for JS types and sizes (an empty signature included).
   */
  verifySignature(key: SignerKeyHandle, message: Uint8Array, signature: Uint8Array): boolean;
  verifySignatureAsync(key: SignerKeyHandle, message: Uint8Array, signature: Uint8Array): Promise<boolean>;

  /**
   * Verifies the signature first; decrypts only if it verifies (ERR_SIGNATURE otherwise). Same decrypt
   * semantics and codes as decryptEC. The signer must be EC (ERR_ARGUMENT otherwise). One thread-pool job
   * for both steps in the asynchronous form.
   */
  verifyAndDecryptEC(
    signer: SignerKeyHandle,
    message: Uint8Array,
    signature: Uint8Array,
    key: MerchantKeyHandle,
    ephemeralPublicKey: Uint8Array,
    partyV: Uint8Array,
    data: Uint8Array,
  ): Buffer;
  verifyAndDecryptECAsync(
    signer: SignerKeyHandle,
    message: Uint8Array,
    signature: Uint8Array,
    key: MerchantKeyHandle,
    ephemeralPublicKey: Uint8Array,
    partyV: Uint8Array,
    data: Uint8Array,
  ): Promise<Buffer>;

  /** As verifyAndDecryptEC, for RSA_v1: an RSA signer, then decryptRSA's semantics and codes. */
  verifyAndDecryptRSA(
    signer: SignerKeyHandle,
    message: Uint8Array,
    signature: Uint8Array,
    key: MerchantKeyHandle,
    wrappedKey: Uint8Array,
    data: Uint8Array,
  ): Buffer;
  verifyAndDecryptRSAAsync(
    signer: SignerKeyHandle,
    message: Uint8Array,
    signature: Uint8Array,
    key: MerchantKeyHandle,
    wrappedKey: Uint8Array,
    data: Uint8Array,
  ): Promise<Buffer>;

  // Single primitives, exposed for known-answer and Wycheproof tests; the token path never calls them.
  ecdh(key: MerchantKeyHandle, ephemeralPublicKey: Uint8Array): Buffer;
  kdf(sharedSecret: Uint8Array, partyV: Uint8Array): Buffer;
  aesGcmDecrypt(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array): Buffer;
  rsaOaepDecrypt(key: MerchantKeyHandle, ciphertext: Uint8Array, label: Uint8Array): Buffer;
}

// Loaded on first use (lib/binding.ts): importing the package needs no native code.
export const native: NativeBinding = lazyAddon<NativeBinding>();

export function isNativeError(err: unknown): err is NativeError {
  if (!(err instanceof Error)) return false;
  const code: unknown = (err as Error & { code?: unknown }).code;
  return typeof code === 'string' && (NATIVE_CODES as readonly string[]).includes(code);
}
