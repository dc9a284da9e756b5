// X.509 certificates as the verifier needs them, read by a strict DER walk of every field (no general
// ASN.1 library: a parser that skips what it does not understand lets bytes no signature covers ride
// along), with each public key validated structurally before any of it may reach node:crypto, and
// signature checks done by OpenSSL through node:crypto only with keys the pinned root vouches for.
// docs/hostile-input.md states the profile.
import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { DerError, TAG, checkDer, children, content, readTime, readTlv, whole, type Tlv } from '../codec/der.js';
import { decodeHex } from '../codec/encoding.js';
import { PublicKeyError, inspectSpki, oidText, type PublicKeyInfo } from './public-key.js';

export const OID = {
  /** Marker on Apple's payment signing leaf ("ecc-smp-broker-sign_UC4-PROD" / "rsa-smp-broker-sign_UC4-PROD"). */
  leafMarker: '1.2.840.113635.100.6.29',
  /** Marker on "Apple Application Integration CA - G3". */
  intermediateMarker: '1.2.840.113635.100.6.2.14',
  /** Merchant identifier hash in the merchant's payment-processing certificate. */
  merchantIdentifier: '1.2.840.113635.100.6.32',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  sha256WithRsa: '1.2.840.113549.1.1.11',
} as const;

/** The extensions this package acts on; any other extension marked critical makes a chain certificate unusable (RFC 5280 4.2). */
export const UNDERSTOOD_CRITICAL_EXTENSIONS: ReadonlySet<string> = new Set([OID.basicConstraints, OID.keyUsage]);

export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

export type KeyType = 'ec-p256' | 'ec-p384' | 'rsa' | 'other';

/** KeyUsage bits (RFC 5280 4.2.1.3) by name, as a bit mask of the named bits. */
export const KEY_USAGE = { digitalSignature: 1 << 0, keyCertSign: 1 << 5, cRLSign: 1 << 6 } as const;

export interface ParsedCertificate {
  readonly der: Buffer;
  /** SHA-256 of the DER, upper-case hex. */
  readonly fingerprint: string;
  readonly subject: Buffer;
  readonly issuer: Buffer;
  readonly serialNumber: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Buffer;
  readonly keyType: KeyType;
  /** Modulus size for RSA keys, 0 otherwise. */
  readonly rsaBits: number;
  /** basicConstraints cA. */
  readonly isCA: boolean;
  /** basicConstraints pathLenConstraint, null when absent. */
  readonly pathLength: number | null;
  /** KeyUsage bits (bit n of RFC 5280 as 1 << n), null when the extension is absent. */
  readonly keyUsage: number | null;
  /** OIDs of critical extensions outside UNDERSTOOD_CRITICAL_EXTENSIONS. */
  readonly unknownCriticalExtensions: readonly string[];
  /** OIDs of the extensions marked critical. */
  readonly criticalExtensions: ReadonlySet<string>;
  /** OID -> raw extnValue contents. */
  readonly extensions: ReadonlyMap<string, Buffer>;
  readonly tbs: Buffer;
  /** Dotted OID of the signature algorithm (outer and inner agree byte for byte). */
  readonly signatureAlgorithm: string;
  readonly signatureValue: Buffer;
  /**
   * The validated key as a node:crypto KeyObject, made on first use and kept with the certificate. Only
   * an issuer the pinned root vouches for is ever asked (see isIssuedBy); never called for keyType 'other'.
   */
  readonly issuerKey: () => KeyObject;
}

const MAX_CERTIFICATE_BYTES = 16 * 1024;

// The one encoding each signature algorithm has in a certificate (RFC 5758: ECDSA without parameters;
// RFC 4055: RSA with NULL). Other algorithms are read, never verified.
const SIGNATURE_ALGORITHM_DER: Readonly<Record<string, string>> = {
  [OID.ecdsaWithSha256]: '300a06082a8648ce3d040302',
  [OID.ecdsaWithSha384]: '300a06082a8648ce3d040303',
  [OID.sha256WithRsa]: '300d06092a864886f70d01010b0500',
};

function fail(message: string): never {
  throw new CertificateError(message);
}

function expect(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (tlv === undefined) fail(`certificate lacks ${what}`);
  if (tlv.tag !== tag) fail(`certificate ${what} has an unexpected ASN.1 tag`);
  return tlv;
}

function readAlgorithm(buf: Uint8Array, tlv: Tlv | undefined, what: string): string {
  const [oid, params, ...rest] = children(buf, expect(tlv, TAG.SEQUENCE, what));
  if (rest.length !== 0) fail(`certificate ${what} has extra fields`);
  const name = oidText(content(buf, expect(oid, TAG.OID, what)));
  const pinned = SIGNATURE_ALGORITHM_DER[name];
  if (pinned !== undefined && !whole(buf, tlv!).equals(Buffer.from(pinned, 'hex'))) fail(`certificate ${what} has unexpected parameters`);
  if (params !== undefined && pinned === undefined && params.tag !== TAG.NULL && params.tag !== TAG.SEQUENCE && params.tag !== TAG.OID) {
    fail(`certificate ${what} has malformed parameters`);
  }
  return name;
}

// Name ::= SEQUENCE OF RelativeDistinguishedName; RDN ::= SET SIZE (1..MAX) OF AttributeTypeAndValue.
function checkName(buf: Uint8Array, tlv: Tlv | undefined, what: string): Buffer {
  for (const rdn of children(buf, expect(tlv, TAG.SEQUENCE, what))) {
    const attributes = children(buf, expect(rdn, TAG.SET, what));
    if (attributes.length === 0) fail(`certificate ${what} has an empty RDN`);
    for (const attribute of attributes) {
      const parts = children(buf, expect(attribute, TAG.SEQUENCE, what));
      if (parts.length !== 2 || parts[0]!.tag !== TAG.OID) fail(`certificate ${what} has a malformed attribute`);
    }
  }
  return whole(buf, tlv!);
}

interface Extensions {
  readonly map: Map<string, Buffer>;
  isCA: boolean;
  pathLength: number | null;
  keyUsage: number | null;
  readonly unknownCritical: string[];
  readonly critical: Set<string>;
}

// extnValue of basicConstraints: SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL }.
function readBasicConstraints(value: Uint8Array, out: Extensions): void {
  const seq = readTlv(value, 0, value.length);
  const fields = children(value, expect(seq, TAG.SEQUENCE, 'basicConstraints'));
  let i = 0;
  if (fields[i]?.tag === 0x01) {
    // DER omits a DEFAULT value: an explicit FALSE is another encoding of the same certificate.
    if (value[fields[i]!.contentStart] !== 0xff) fail('certificate basicConstraints encodes the default cA FALSE');
    out.isCA = true;
    i++;
  }
  if (fields[i] !== undefined) {
    const n = content(value, expect(fields[i], TAG.INTEGER, 'basicConstraints pathLenConstraint'));
    if (n[0]! & 0x80) fail('certificate basicConstraints pathLenConstraint is negative');
    if (n.length > 2) fail('certificate basicConstraints pathLenConstraint is out of range');
    out.pathLength = n.reduce((v, b) => v * 256 + b, 0);
    i++;
  }
  if (i !== fields.length) fail('certificate basicConstraints has extra fields');
}

// extnValue of keyUsage: a named-bit BIT STRING, DER: trailing zero bits removed, at least one bit set.
function readKeyUsage(value: Uint8Array, out: Extensions): void {
  const tlv = expect(readTlv(value, 0, value.length), TAG.BIT_STRING, 'keyUsage');
  const bits = content(value, tlv);
  const unused = bits[0]!;
  const last = bits[bits.length - 1]!;
  if (bits.length < 2 || bits.length > 3 || last === 0 || (last & (1 << unused)) === 0)
    fail('certificate keyUsage is not a DER named-bit list');
  let mask = 0;
  for (let i = 1; i < bits.length; i++) {
    for (let bit = 0; bit < 8; bit++) if (bits[i]! & (0x80 >> bit)) mask |= 1 << ((i - 1) * 8 + bit);
  }
  out.keyUsage = mask;
}

// Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension; Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }.
function readExtensions(buf: Uint8Array, tlv: Tlv): Extensions {
  const out: Extensions = { map: new Map(), isCA: false, pathLength: null, keyUsage: null, unknownCritical: [], critical: new Set() };
  const [list, ...rest] = children(buf, tlv);
  if (rest.length !== 0) fail('certificate extensions field holds more than one value');
  const extensions = children(buf, expect(list, TAG.SEQUENCE, 'extensions'));
  if (extensions.length === 0) fail('certificate has an empty extensions list');
  for (const extension of extensions) {
    const fields = children(buf, expect(extension, TAG.SEQUENCE, 'extension'));
    const id = oidText(content(buf, expect(fields[0], TAG.OID, 'extension id')));
    let i = 1;
    let critical = false;
    if (fields[i]?.tag === 0x01) {
      if (buf[fields[i]!.contentStart] !== 0xff) fail('certificate extension encodes the default critical FALSE');
      critical = true;
      i++;
    }
    const value = content(buf, expect(fields[i++], TAG.OCTET_STRING, 'extension value'));
    if (i !== fields.length) fail('certificate extension has extra fields');
    if (out.map.has(id)) fail('duplicate certificate extension');
    // Every extension value is itself one DER value, whether or not this package reads it.
    const inner = readTlv(value, 0, value.length);
    if (inner.end !== value.length) fail('certificate extension value has trailing bytes');
    checkDer(value, inner);
    out.map.set(id, value);
    if (id === OID.basicConstraints) readBasicConstraints(value, out);
    else if (id === OID.keyUsage) readKeyUsage(value, out);
    if (critical) out.critical.add(id);
    if (critical && !UNDERSTOOD_CRITICAL_EXTENSIONS.has(id)) out.unknownCritical.push(id);
  }
  return out;
}

function keyTypeOf(info: PublicKeyInfo): KeyType {
  if (info.kind === 'rsa') return 'rsa';
  if (info.kind === 'ec' && info.curve === 'P-256') return 'ec-p256';
  if (info.kind === 'ec' && info.curve === 'P-384') return 'ec-p384';
  return 'other';
}

/**
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }, exactly these three,
 * each exactly one DER value, every nested structure read to its end; the public key validated
 * structurally. No node:crypto call sees any of it here.
 */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  if (der.length === 0 || der.length > MAX_CERTIFICATE_BYTES) fail('certificate size out of range');
  try {
    return parse(der);
  } catch (err) {
    if (err instanceof DerError) fail(`certificate is not DER: ${err.message}`);
    if (err instanceof PublicKeyError) fail(`certificate public key is invalid: ${err.message}`);
    throw err;
  }
}

// X.509 v3's version field, [0] EXPLICIT INTEGER 2.
const VERSION_3 = Buffer.from('020102', 'hex');

function parse(input: Uint8Array): ParsedCertificate {
  // One copy, owned by the parsed certificate; every field below is a view into it. The copy is what
  // a cached chain keeps, never the token's buffer, and nothing else is copied per field.
  const der = Buffer.from(input);
  const outer = readTlv(der, 0, der.length);
  if (outer.tag !== TAG.SEQUENCE || outer.end !== der.length) fail('not a DER certificate');
  checkDer(der, outer);
  const [tbsTlv, algorithmTlv, signatureTlv, ...after] = children(der, outer);
  if (after.length !== 0) fail('certificate has fields after signatureValue');
  const signatureAlgorithm = readAlgorithm(der, algorithmTlv, 'signatureAlgorithm');
  const signatureBits = content(der, expect(signatureTlv, TAG.BIT_STRING, 'signatureValue'));
  // The unused-bits octet is outside every signature: DER says zero, and a signature is whole octets.
  if (signatureBits[0] !== 0 || signatureBits.length < 2) fail('certificate signature value is empty or has unused bits');

  const fields = children(der, expect(tbsTlv, TAG.SEQUENCE, 'tbsCertificate'));
  let i = 0;
  const version = children(der, expect(fields[i++], TAG.CONTEXT_0, 'version'));
  if (version.length !== 1 || !whole(der, version[0]!).equals(VERSION_3)) fail('not an X.509 v3 certificate');
  const serialTlv = expect(fields[i++], TAG.INTEGER, 'serialNumber');
  const serialNumber = content(der, serialTlv);
  // RFC 5280 4.1.2.2: a positive integer of at most 20 octets.
  if (serialNumber[0]! & 0x80 || serialNumber.length > 21 || (serialNumber.length === 21 && serialNumber[0] !== 0)) {
    fail('certificate serial number is negative or too long');
  }
  if (serialNumber.every((b) => b === 0)) fail('certificate serial number is zero');
  // RFC 5280 4.1.1.2: the outer and inner algorithm must match, and nothing signs the outer one.
  const innerAlgorithm = expect(fields[i++], TAG.SEQUENCE, 'signature');
  if (!whole(der, innerAlgorithm).equals(whole(der, algorithmTlv!))) fail('certificate signature algorithms disagree');
  const issuer = checkName(der, fields[i++], 'issuer');
  const validity = children(der, expect(fields[i++], TAG.SEQUENCE, 'validity'));
  if (validity.length !== 2) fail('certificate validity is not exactly two times');
  const notBefore = readTime(der, validity[0]!);
  const notAfter = readTime(der, validity[1]!);
  const subject = checkName(der, fields[i++], 'subject');
  const spkiTlv = expect(fields[i++], TAG.SEQUENCE, 'subjectPublicKeyInfo');
  const spki = whole(der, spkiTlv);
  const key = inspectSpki(spki);
  // issuerUniqueID [1] and subjectUniqueID [2] are not used by Apple's profile (RFC 5280 says SHOULD NOT).
  const extensionsTlv = fields[i++];
  if (extensionsTlv === undefined || extensionsTlv.tag !== 0xa3) fail('certificate has no extensions or carries unique identifiers');
  const extensions = readExtensions(der, extensionsTlv);
  if (i !== fields.length) fail('certificate tbsCertificate has fields after the extensions');

  let keyObject: KeyObject | undefined;
  let fingerprint: string | undefined;
  const keyType = keyTypeOf(key);
  return {
    der,
    // On first use: only the root's is read on every verifier (the Apple root check), a leaf's only
    // by inspection, and a never-seen leaf should not pay a hash for it.
    get fingerprint() {
      return (fingerprint ??= createHash('sha256').update(der).digest('hex').toUpperCase());
    },
    subject,
    issuer,
    serialNumber,
    notBefore,
    notAfter,
    spki,
    keyType,
    rsaBits: key.kind === 'rsa' ? key.bits : 0,
    isCA: extensions.isCA,
    pathLength: extensions.pathLength,
    keyUsage: extensions.keyUsage,
    unknownCriticalExtensions: extensions.unknownCritical,
    criticalExtensions: extensions.critical,
    extensions: extensions.map,
    tbs: whole(der, tbsTlv!),
    signatureAlgorithm,
    signatureValue: signatureBits.subarray(1),
    issuerKey: () => {
      if (keyType === 'other') throw new CertificateError('certificate key cannot verify signatures');
      keyObject ??= createPublicKey({ key: spki, format: 'der', type: 'spki' });
      return keyObject;
    },
  };
}

// Which issuer key may sign with which algorithm. Anything else is refused rather than tried.
const CERT_SIGNATURE_ALGORITHMS: Record<string, { hash: string; keyTypes: readonly KeyType[] }> = {
  [OID.ecdsaWithSha256]: { hash: 'sha256', keyTypes: ['ec-p256', 'ec-p384'] },
  [OID.ecdsaWithSha384]: { hash: 'sha384', keyTypes: ['ec-p256', 'ec-p384'] },
  [OID.sha256WithRsa]: { hash: 'sha256', keyTypes: ['rsa'] },
};

/**
 * True when `issuer`'s name is `cert`'s issuer name and `issuer`'s key verifies `cert`'s signature.
 * The caller vouches for `issuer` (the pinned root, or an intermediate the root signed).
 */
export function isIssuedBy(cert: ParsedCertificate, issuer: ParsedCertificate): boolean {
  if (!cert.issuer.equals(issuer.subject)) return false;
  const alg = CERT_SIGNATURE_ALGORITHMS[cert.signatureAlgorithm];
  if (alg === undefined || !alg.keyTypes.includes(issuer.keyType)) return false;
  // node:crypto answers false for any malformed signature; an exception here is a fault, not a
  // verdict, and must not be cached as CHAIN_UNTRUSTED for these certificates: let it through.
  // KeyObjects are made only here, of an issuer's key (the configured root, or an intermediate the root
  // has just vouched for), after inspectSpki validated it: a certificate that merely arrives in a token
  // never becomes one.
  return verifySignature(alg.hash, cert.tbs, issuer.issuerKey(), cert.signatureValue);
}

export function isValidAt(cert: ParsedCertificate, at: Date): boolean {
  const t = at.getTime();
  return cert.notBefore.getTime() <= t && t <= cert.notAfter.getTime();
}

/**
 * The merchant identifier hash ("Party V") from extension 1.2.840.113635.100.6.32: a UTF8String of 64
 * hex characters. Decoded as ASN.1 and kept as all 32 bytes, leading zero bytes included.
 */
export function merchantIdentifierHash(cert: ParsedCertificate): Buffer | null {
  const value = cert.extensions.get(OID.merchantIdentifier);
  if (value === undefined) return null;
  try {
    const tlv = readTlv(value, 0, value.length);
    if (tlv.tag !== TAG.UTF8_STRING || tlv.end !== value.length) return null;
    const text = content(value, tlv).toString('latin1');
    if (text.length !== 64) return null;
    return decodeHex(text);
  } catch {
    return null;
  }
}

/** Certificates accepted as PEM (one CERTIFICATE block) or DER. */
export function certificateDer(input: string | Uint8Array): Buffer | null {
  const text = typeof input === 'string' ? input : null;
  if (text === null) {
    const buf = Buffer.from(input);
    // DER starts with a SEQUENCE tag; anything else is treated as PEM text.
    if (buf[0] === TAG.SEQUENCE) return buf;
    return certificateDer(buf.toString('latin1'));
  }
  const blocks = [...text.matchAll(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g)];
  if (blocks.length !== 1) return null;
  const body = blocks[0]![1]!.replace(/\s+/g, '');
  const der = Buffer.from(body, 'base64');
  if (der.toString('base64') !== body) return null;
  return der;
}
