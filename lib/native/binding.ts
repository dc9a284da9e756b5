// The contract between the TypeScript policy layer and the C++ mechanism in native/.
// The addon validates nothing about Apple's token format: it performs cryptographic steps on bytes
// TypeScript has already checked, and reports failures as one of a closed set of native codes.
import { lazyAddon } from './loader.js';

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
  'ERR_DIGEST', // SHA-256 of the signed content is not the signer's messageDigest
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

  /**
   * THE token operation, Apple's order in one place: SHA-256 over the signed content (headerKey || data ||
   * transactionId || applicationData, hashed part by part) must equal `messageDigest`, the signer's
   * messageDigest attribute (ERR_DIGEST otherwise, compared in constant time); then the signer's
   * signature over `message` (ERR_SIGNATURE unless it verifies); then, with a merchant key, the
   * decryption of the version the key's type names: EC_v1 ECDH(P-256) with headerKey as the ephemeral
   * key -> Apple's single-step KDF -> AES-256-GCM (16-byte zero IV, tag = last 16 bytes of data);
   * RSA_v1 RSA-OAEP(SHA-256) unwrap of headerKey (wrappedKey) to a 16-byte key -> AES-128-GCM.
   * With `key` null (a refusal is pending) the digest and the signature are checked and null
   * returned; partyV must then be null. An RSA key takes no partyV. `messageDigest` is exactly 32
   * bytes and `applicationData` null for a token without one. The signer and the key must be of the
   * same type (ERR_ARGUMENT otherwise).
   *
   * The arguments are read once into a job that runs inline (`pool` false: returns or throws) or on
   * libuv's thread pool (`pool` true: a promise, never a throw). `phases`, when given, receives the
   * phase durations in microseconds: [digest and signature, decrypt].
   */
  token(
    pool: false,
    signer: SignerKeyHandle,
    message: Uint8Array,
    signature: Uint8Array,
    key: MerchantKeyHandle | null,
    headerKey: Uint8Array,
    partyV: Uint8Array | null,
    data: Uint8Array,
    messageDigest: Uint8Array,
    transactionId: Uint8Array,
    applicationData: Uint8Array | null,
    phases?: Float64Array | null,
  ): Buffer | null;
  token(
    pool: true,
    signer: SignerKeyHandle,
    message: Uint8Array,
    signature: Uint8Array,
    key: MerchantKeyHandle | null,
    headerKey: Uint8Array,
    partyV: Uint8Array | null,
    data: Uint8Array,
    messageDigest: Uint8Array,
    transactionId: Uint8Array,
    applicationData: Uint8Array | null,
    phases?: Float64Array | null,
  ): Promise<Buffer | null>;

  /**
   * false when no UTF-16 code unit of `text` is below U+0020 (one pass at memory speed); true when one
   * may be: it reads low bytes, so a wide unit such as U+0101 raises a false alarm, never a missed one.
   * The strict JSON reader skips its per-string check on a token that gets false.
   */
  mayHoldControlCharacters(text: string): boolean;

  /**
   * Decodes canonical base64 (standard alphabet, '=' padding to a multiple of four, zero unused bits)
   * into `out`, which must be exactly as long as the text's bytes; false (with `out` partly written)
   * for any other text, a length mismatch included. ERR_ARGUMENT only for JS types.
   */
  decodeBase64Into(text: string, out: Uint8Array): boolean;

  // Single primitives, for known-answer and Wycheproof tests and for the bench's OpenSSL limit; the
  // token path never calls them.
  ecdh(key: MerchantKeyHandle, ephemeralPublicKey: Uint8Array): Buffer;
  kdf(sharedSecret: Uint8Array, partyV: Uint8Array): Buffer;
  aesGcmDecrypt(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array): Buffer;
  rsaOaepDecrypt(key: MerchantKeyHandle, ciphertext: Uint8Array, label: Uint8Array): Buffer;
}

// Loaded on first use (lib/native/loader.ts): importing the package needs no native code.
export const native: NativeBinding = lazyAddon<NativeBinding>();

export function isNativeError(err: unknown): err is NativeError {
  if (!(err instanceof Error)) return false;
  const code: unknown = (err as Error & { code?: unknown }).code;
  return typeof code === 'string' && (NATIVE_CODES as readonly string[]).includes(code);
}
