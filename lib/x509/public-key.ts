// Structural validation of a SubjectPublicKeyInfo, done in plain TypeScript before any of its bytes may
// reach node:crypto or OpenSSL. Node 20 aborts the whole process (an assertion, not an exception) when it
// is asked for the details of some invalid keys, e.g. an EC point at infinity; a key that arrives in a
// token is therefore read here first, and only a key that passes every check below may ever become a
// KeyObject. docs/hostile-input.md lists the rules.
import { DerError, TAG, children, content, readTlv, type Tlv } from '../codec/der.js';

export class PublicKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PublicKeyError';
  }
}

export type PublicKeyInfo =
  | { readonly kind: 'ec'; readonly curve: CurveName }
  | { readonly kind: 'rsa'; readonly bits: number }
  /** A well-formed key of a type this package never verifies with (Ed25519, DSA, ...): never made a KeyObject. */
  | { readonly kind: 'other'; readonly algorithm: string };

export type CurveName = 'P-256' | 'P-384' | 'P-521' | 'secp256k1';

interface Curve {
  readonly name: CurveName;
  readonly p: bigint;
  readonly a: bigint;
  readonly b: bigint;
  readonly bytes: number;
}

const P256_P = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
const P384_P = 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n;
const P521_P = 2n ** 521n - 1n;
const K256_P = 2n ** 256n - 2n ** 32n - 977n;

// Every curve here has cofactor 1: a point on the curve other than infinity lies in the prime-order group.
const CURVES: ReadonlyMap<string, Curve> = new Map([
  [
    '1.2.840.10045.3.1.7',
    { name: 'P-256', p: P256_P, a: P256_P - 3n, b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn, bytes: 32 },
  ],
  [
    '1.3.132.0.34',
    {
      name: 'P-384',
      p: P384_P,
      a: P384_P - 3n,
      b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
      bytes: 48,
    },
  ],
  [
    '1.3.132.0.35',
    {
      name: 'P-521',
      p: P521_P,
      a: P521_P - 3n,
      b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
      bytes: 66,
    },
  ],
  ['1.3.132.0.10', { name: 'secp256k1', p: K256_P, a: 0n, b: 7n, bytes: 32 }],
]);

const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';

// Algorithms with no parameters and a raw key of one fixed size (RFC 8410).
const FIXED_SIZE_KEYS: ReadonlyMap<string, { name: string; bytes: number }> = new Map([
  ['1.3.101.110', { name: 'X25519', bytes: 32 }],
  ['1.3.101.111', { name: 'X448', bytes: 56 }],
  ['1.3.101.112', { name: 'Ed25519', bytes: 32 }],
  ['1.3.101.113', { name: 'Ed448', bytes: 57 }],
]);

/** RSA moduli outside these sizes are refused before any arithmetic: tiny ones are broken, huge ones are a CPU sink. */
export const RSA_MIN_BITS = 1024;
export const RSA_MAX_BITS = 8192;

/** Dotted text of an OID's content octets; DerError for a malformed encoding. */
export function oidText(bytes: Uint8Array): string {
  if (bytes.length === 0) throw new DerError('empty OID');
  // Arcs are kept as numbers while they fit in 46 bits (every OID this package meets), as BigInt
  // beyond: a certificate has a dozen OIDs and BigInt steps cost far more than number ones.
  const arcs: (number | bigint)[] = [];
  let value: number | bigint = 0;
  let fresh = true;
  for (const byte of bytes) {
    if (fresh && byte === 0x80) throw new DerError('non-minimal OID arc');
    if (typeof value === 'number' && value < 2 ** 45) value = value * 128 + (byte & 0x7f);
    else value = (BigInt(value) << 7n) | BigInt(byte & 0x7f);
    fresh = (byte & 0x80) === 0;
    if (fresh) {
      arcs.push(value);
      value = 0;
    }
  }
  if (!fresh) throw new DerError('truncated OID');
  const first = arcs[0]!;
  let text: string;
  if (typeof first === 'number') text = first < 40 ? `0.${first}` : first < 80 ? `1.${first - 40}` : `2.${first - 80}`;
  else text = `2.${first - 80n}`;
  for (let i = 1; i < arcs.length; i++) text += `.${arcs[i]}`;
  return text;
}

function mod(x: bigint, p: bigint): bigint {
  const r = x % p;
  return r < 0n ? r + p : r;
}

function unsigned(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')}`);
}

function checkEcPoint(curve: Curve, point: Uint8Array): void {
  if (point.length === 1 && point[0] === 0x00) throw new PublicKeyError(`${curve.name} public key is the point at infinity`);
  // Apple's certificates carry uncompressed points; compressed and hybrid forms are refused outright.
  if (point[0] !== 0x04) throw new PublicKeyError(`${curve.name} public key is not an uncompressed point`);
  if (point.length !== 1 + 2 * curve.bytes) throw new PublicKeyError(`${curve.name} public key has the wrong length`);
  const x = unsigned(point.subarray(1, 1 + curve.bytes));
  const y = unsigned(point.subarray(1 + curve.bytes));
  if (x >= curve.p || y >= curve.p) throw new PublicKeyError(`${curve.name} public key coordinate is not below the field prime`);
  const { p, a, b } = curve;
  if (mod(y * y, p) !== mod(x * x * x + a * x + b, p)) throw new PublicKeyError(`${curve.name} public key is not on the curve`);
}

/** A DER INTEGER's content octets as a positive value: minimal, non-negative, non-zero. */
function positiveInteger(buf: Uint8Array, tlv: Tlv | undefined, what: string): Uint8Array {
  if (tlv === undefined || tlv.tag !== TAG.INTEGER || tlv.indefinite) throw new PublicKeyError(`RSA ${what} is not an INTEGER`);
  const bytes = content(buf, tlv);
  if (bytes.length === 0) throw new PublicKeyError(`RSA ${what} is empty`);
  if (bytes[0]! & 0x80) throw new PublicKeyError(`RSA ${what} is negative`);
  if (bytes.length > 1 && bytes[0] === 0 && (bytes[1]! & 0x80) === 0) throw new PublicKeyError(`RSA ${what} is not minimally encoded`);
  const digits = bytes[0] === 0 ? bytes.subarray(1) : bytes;
  if (digits.length === 0) throw new PublicKeyError(`RSA ${what} is zero`);
  return digits;
}

function checkRsaKey(key: Uint8Array): number {
  let n: Uint8Array;
  let e: Uint8Array;
  try {
    const seq = readTlv(key, 0, key.length);
    if (seq.tag !== TAG.SEQUENCE || seq.indefinite || seq.end !== key.length)
      throw new PublicKeyError('RSA public key is not one DER SEQUENCE');
    const fields = children(key, seq);
    if (fields.length !== 2) throw new PublicKeyError('RSA public key is not exactly a modulus and an exponent');
    n = positiveInteger(key, fields[0], 'modulus');
    e = positiveInteger(key, fields[1], 'exponent');
  } catch (err) {
    if (err instanceof DerError) throw new PublicKeyError('RSA public key is not DER');
    throw err;
  }
  const bits = (n.length - 1) * 8 + (32 - Math.clz32(n[0]!));
  if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
    throw new PublicKeyError(`RSA modulus size is outside ${RSA_MIN_BITS}..${RSA_MAX_BITS} bits`);
  if ((n[n.length - 1]! & 1) === 0) throw new PublicKeyError('RSA modulus is even');
  // Real exponents are 65537, occasionally 3; a long one only costs time.
  if (e.length > 4) throw new PublicKeyError('RSA exponent is too large');
  const ev = unsigned(e);
  if (ev < 3n || (ev & 1n) === 0n) throw new PublicKeyError('RSA exponent is not an odd number of at least 3');
  return bits;
}

/**
 * Reads a DER SubjectPublicKeyInfo, nothing after it, and validates its key structurally. Throws
 * PublicKeyError for a malformed or invalid key (EC: named curve known, uncompressed, coordinates below
 * p, on the curve; RSA: a DER RSAPublicKey with an odd modulus of sane size and a small odd exponent > 1).
 */
export function inspectSpki(spki: Uint8Array): PublicKeyInfo {
  try {
    const outer = readTlv(spki, 0, spki.length);
    if (outer.tag !== TAG.SEQUENCE || outer.indefinite || outer.end !== spki.length)
      throw new PublicKeyError('public key is not one DER SEQUENCE');
    const [algorithm, keyBits, ...rest] = children(spki, outer);
    if (rest.length !== 0 || algorithm === undefined || keyBits === undefined)
      throw new PublicKeyError('public key info has the wrong fields');
    if (algorithm.tag !== TAG.SEQUENCE || algorithm.indefinite) throw new PublicKeyError('public key algorithm is not a SEQUENCE');
    if (keyBits.tag !== TAG.BIT_STRING) throw new PublicKeyError('public key is not a BIT STRING');
    const bits = content(spki, keyBits);
    if (bits.length < 2 || bits[0] !== 0) throw new PublicKeyError('public key BIT STRING is empty or has unused bits');
    const key = bits.subarray(1);
    const [oidTlv, params, ...more] = children(spki, algorithm);
    if (more.length !== 0 || oidTlv === undefined || oidTlv.tag !== TAG.OID) throw new PublicKeyError('public key algorithm is malformed');
    const oid = oidText(content(spki, oidTlv));

    if (oid === OID_EC_PUBLIC_KEY) {
      // RFC 5480: namedCurve only; explicit parameters (a curve the key chooses itself) are refused.
      if (params === undefined || params.tag !== TAG.OID) throw new PublicKeyError('EC public key does not name its curve');
      const curveOid = oidText(content(spki, params));
      const curve = CURVES.get(curveOid);
      if (curve === undefined) throw new PublicKeyError('EC public key is on an unsupported curve');
      checkEcPoint(curve, key);
      return { kind: 'ec', curve: curve.name };
    }
    if (oid === OID_RSA_ENCRYPTION) {
      // RFC 3279: the parameters are NULL.
      if (params === undefined || params.tag !== TAG.NULL || params.contentEnd !== params.contentStart) {
        throw new PublicKeyError('RSA public key parameters are not NULL');
      }
      return { kind: 'rsa', bits: checkRsaKey(key) };
    }
    const fixed = FIXED_SIZE_KEYS.get(oid);
    if (fixed !== undefined) {
      if (params !== undefined) throw new PublicKeyError(`${fixed.name} public key carries parameters`);
      if (key.length !== fixed.bytes) throw new PublicKeyError(`${fixed.name} public key has the wrong length`);
      return { kind: 'other', algorithm: fixed.name };
    }
    return { kind: 'other', algorithm: oid };
  } catch (err) {
    if (err instanceof DerError) throw new PublicKeyError('public key info is not DER');
    throw err;
  }
}
