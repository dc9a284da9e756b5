// X.509 certificates as the verifier needs them: parsed once by pkijs, checked for the facts Apple's
// procedure depends on, with signature checks done by OpenSSL through node:crypto.
import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import * as pkijs from 'pkijs';
import { DerError, TAG, children, content, readTlv, whole } from './der.js';
import { decodeHex } from './encoding.js';

export const OID = {
  /** Marker on Apple's payment signing leaf ("ecc-smp-broker-sign_UC4-PROD" / "rsa-smp-broker-sign_UC4-PROD"). */
  leafMarker: '1.2.840.113635.100.6.29',
  /** Marker on "Apple Application Integration CA - G3". */
  intermediateMarker: '1.2.840.113635.100.6.2.14',
  /** Merchant identifier hash in the merchant's payment-processing certificate. */
  merchantIdentifier: '1.2.840.113635.100.6.32',
  basicConstraints: '2.5.29.19',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  sha256WithRsa: '1.2.840.113549.1.1.11',
} as const;

export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

export type KeyType = 'ec-p256' | 'ec-p384' | 'rsa' | 'other';

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
  readonly publicKey: KeyObject;
  readonly isCA: boolean;
  /** OID -> raw extnValue contents. */
  readonly extensions: ReadonlyMap<string, Buffer>;
  readonly tbs: Buffer;
  readonly signatureAlgorithm: string;
  readonly signatureValue: Buffer;
}

const MAX_CERTIFICATE_BYTES = 16 * 1024;

function bytes(view: ArrayBuffer | Uint8Array): Buffer {
  return view instanceof Uint8Array ? Buffer.from(view) : Buffer.from(new Uint8Array(view));
}

function algorithmDer(alg: pkijs.AlgorithmIdentifier): Buffer {
  return bytes(alg.toSchema().toBER(false));
}

export function parseCertificate(der: Uint8Array): ParsedCertificate {
  if (der.length === 0 || der.length > MAX_CERTIFICATE_BYTES) throw new CertificateError('certificate size out of range');
  // The certificate must be exactly one DER value: trailing bytes would be ignored by pkijs.
  try {
    const outer = readTlv(der, 0, der.length);
    if (outer.tag !== TAG.SEQUENCE || outer.indefinite || outer.end !== der.length) throw new CertificateError('not a DER certificate');
  } catch (err) {
    if (err instanceof DerError) throw new CertificateError('not a DER certificate');
    throw err;
  }
  let cert: pkijs.Certificate;
  try {
    cert = pkijs.Certificate.fromBER(der);
  } catch {
    throw new CertificateError('certificate does not parse');
  }
  if (cert.version !== 2) throw new CertificateError('not an X.509 v3 certificate');
  // RFC 5280 4.1.1.2: the outer and inner algorithm must match, and nothing signs the outer one.
  if (!algorithmDer(cert.signatureAlgorithm).equals(algorithmDer(cert.signature))) {
    throw new CertificateError('certificate signature algorithms disagree');
  }
  // The unused-bits octet of signatureValue is outside every signature and pkijs drops it, so a
  // token could carry Apple's certificates with it changed and still verify. DER says zero.
  if (cert.signatureValue.valueBlock.unusedBits !== 0) throw new CertificateError('certificate signature value has unused bits');

  const extensions = new Map<string, Buffer>();
  let isCA = false;
  for (const ext of cert.extensions ?? []) {
    if (extensions.has(ext.extnID)) throw new CertificateError('duplicate certificate extension');
    extensions.set(ext.extnID, bytes(ext.extnValue.valueBlock.valueHexView));
    if (ext.extnID === OID.basicConstraints) {
      const bc = ext.parsedValue as pkijs.BasicConstraints | undefined;
      isCA = bc?.cA === true;
    }
  }

  const spki = spkiBytes(der);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    throw new CertificateError('certificate public key does not parse');
  }
  let keyType: KeyType = 'other';
  let rsaBits = 0;
  const details = publicKey.asymmetricKeyDetails ?? {};
  if (publicKey.asymmetricKeyType === 'ec') {
    if (details.namedCurve === 'prime256v1') keyType = 'ec-p256';
    else if (details.namedCurve === 'secp384r1') keyType = 'ec-p384';
  } else if (publicKey.asymmetricKeyType === 'rsa') {
    keyType = 'rsa';
    rsaBits = details.modulusLength ?? 0;
  }

  const derBuf = Buffer.from(der);
  return {
    der: derBuf,
    fingerprint: createHash('sha256').update(derBuf).digest('hex').toUpperCase(),
    subject: bytes(cert.subject.valueBeforeDecode),
    issuer: bytes(cert.issuer.valueBeforeDecode),
    serialNumber: bytes(cert.serialNumber.valueBlock.valueHexView),
    notBefore: cert.notBefore.value,
    notAfter: cert.notAfter.value,
    spki,
    keyType,
    rsaBits,
    publicKey,
    isCA,
    extensions,
    tbs: bytes(cert.tbsView),
    signatureAlgorithm: cert.signatureAlgorithm.algorithmId,
    signatureValue: bytes(cert.signatureValue.valueBlock.valueHexView),
  };
}

// publicKeyHash is SHA-256 over the certificate's SPKI exactly as encoded, so take those bytes
// verbatim rather than a re-encoding of pkijs's parse.
function spkiBytes(der: Uint8Array): Buffer {
  try {
    const [tbs] = children(der, readTlv(der, 0, der.length));
    const fields = children(der, tbs!);
    // version [0] is present in every v3 certificate (checked above).
    const spki = fields[6];
    if (spki === undefined || spki.tag !== TAG.SEQUENCE) throw new CertificateError('certificate has no public key');
    return Buffer.from(whole(der, spki));
  } catch (err) {
    if (err instanceof DerError) throw new CertificateError('certificate does not parse');
    throw err;
  }
}

// Which issuer key may sign with which algorithm. Anything else is refused rather than tried.
const CERT_SIGNATURE_ALGORITHMS: Record<string, { hash: string; keyTypes: readonly KeyType[] }> = {
  [OID.ecdsaWithSha256]: { hash: 'sha256', keyTypes: ['ec-p256', 'ec-p384'] },
  [OID.ecdsaWithSha384]: { hash: 'sha384', keyTypes: ['ec-p256', 'ec-p384'] },
  [OID.sha256WithRsa]: { hash: 'sha256', keyTypes: ['rsa'] },
};

/** True when `issuer`'s name is `cert`'s issuer name and `issuer`'s key verifies `cert`'s signature. */
export function isIssuedBy(cert: ParsedCertificate, issuer: ParsedCertificate): boolean {
  if (!cert.issuer.equals(issuer.subject)) return false;
  const alg = CERT_SIGNATURE_ALGORITHMS[cert.signatureAlgorithm];
  if (alg === undefined || !alg.keyTypes.includes(issuer.keyType)) return false;
  // node:crypto answers false for any malformed signature; an exception here is a fault, not a
  // verdict, and must not be cached as CHAIN_UNTRUSTED for these certificates: let it through.
  return verifySignature(alg.hash, cert.tbs, issuer.publicKey, cert.signatureValue);
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
