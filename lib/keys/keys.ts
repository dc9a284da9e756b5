// The merchant's Payment Processing key, from birth to retirement: a new key and the CSR to upload to
// Apple, the import of the certificate Apple returns (checked to be a Payment Processing certificate
// that belongs to the key), an optional PKCS#12 bundle, and the key ring check for cron and CI.
//
// The CSR is built here with @peculiar/asn1-csr and signed with node:crypto; only our freshly generated
// key and the merchant identifier go into it. The certificate the user imports is untrusted input: it
// is read by lib/x509/certificates.ts like every certificate the library meets.
import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  Name,
  RelativeDistinguishedName,
  SubjectPublicKeyInfo,
} from '@peculiar/asn1-x509';
import { ContentInfo } from '@peculiar/asn1-cms';
import { DigestInfo } from '@peculiar/asn1-rsa';
import { AuthenticatedSafe, CertBag, MacData, PFX, PKCS12Attribute, SafeBag, SafeContents } from '@peculiar/asn1-pfx';
import { OctetString } from '@peculiar/asn1-schema';
import { MERCHANT_IDENTITY_MESSAGE, merchantCertificateKind, subjectCommonName, subjectUserId } from '../x509/cert-facts.js';
import {
  CertificateError,
  certificateDer,
  merchantIdentifierHash,
  parseCertificate,
  type ParsedCertificate,
} from '../x509/certificates.js';
import { createVerifier } from '../index.js';
import { isApplePayError } from '../errors.js';

/** Stable codes of what `keys import` and `keys check` find wrong. */
export const KEY_PROBLEM_CODES = [
  'CERT_UNREADABLE', // not one PEM or DER certificate, or it does not parse
  'NOT_APPLE_PAY_CERTIFICATE', // no merchant identifier extension 1.2.840.113635.100.6.32
  'MERCHANT_IDENTITY_CERTIFICATE', // the Merchant Identity certificate, not the Payment Processing one
  'MERCHANT_ID_MISMATCH', // the extension's hash is not SHA-256 of the subject's merchant identifier
  'UNSUPPORTED_KEY', // neither EC P-256 nor RSA-2048 or larger
  'KEY_UNREADABLE', // the key file cannot be read (format, passphrase)
  'KEY_MISMATCH', // the key does not belong to the certificate
  'NOT_YET_VALID',
  'EXPIRED',
  'EXPIRES_SOON', // within the warning period (--warn-days, default 30)
] as const;
export type KeyProblemCode = (typeof KEY_PROBLEM_CODES)[number];

export interface KeyProblem {
  code: KeyProblemCode;
  message: string;
}

export interface CertificateSummary {
  merchantIdentifier: string | null;
  /** Base64 SHA-256 of the certificate's SubjectPublicKeyInfo: what tokens carry as header.publicKeyHash. */
  publicKeyHash: string;
  type: 'ec' | 'rsa' | 'other';
  notBefore: Date;
  notAfter: Date;
  /** Whole days from `now` until notAfter (negative once expired). */
  daysLeft: number;
  subject: string | null;
}

const DAY_MS = 24 * 3600 * 1000;
const OID_CN = '2.5.4.3';
const OID_EMAIL = '1.2.840.113549.1.9.1';
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const DER_NULL = new Uint8Array([0x05, 0x00]).buffer;

const sha256b64 = (data: Uint8Array): string => createHash('sha256').update(data).digest('base64');
const toArrayBuffer = (b: Uint8Array): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/** Apple's merchant identifiers are reverse-DNS names such as merchant.com.example.shop. */
export function checkMerchantIdentifier(id: string): string | null {
  if (id.length === 0 || id.length > 255) return 'a merchant identifier has 1 to 255 characters';
  if (!/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(id))
    return 'a merchant identifier is a reverse-DNS name of letters, digits, dots and hyphens (e.g. merchant.com.example.shop)';
  return null;
}

export interface NewKey {
  privateKey: KeyObject;
  /** PKCS#8 PEM, unencrypted: written with mode 0600 by the command. */
  keyPem: string;
  csrDer: Buffer;
  csrPem: string;
  type: 'ec' | 'rsa';
  /** The publicKeyHash tokens will carry once Apple's certificate for this key is active. */
  publicKeyHash: string;
}

function pem(label: string, der: Uint8Array): string {
  const body = Buffer.from(der)
    .toString('base64')
    .replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/**
 * A new Payment Processing key and its PKCS#10 CSR. Apple reads only the public key from the CSR and
 * writes its own subject into the certificate; the subject here (CN = merchant identifier, and the
 * email address if given, as Keychain Access does) only helps a person recognise the request.
 */
export function newKeyAndCsr(merchantIdentifier: string, type: 'ec' | 'rsa', email?: string): NewKey {
  const { privateKey, publicKey } =
    type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const rdn = (oid: string, value: AttributeValue): RelativeDistinguishedName =>
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type: oid, value })]);
  const subject = new Name([rdn(OID_CN, new AttributeValue({ utf8String: merchantIdentifier }))]);
  if (email !== undefined) subject.push(rdn(OID_EMAIL, new AttributeValue({ ia5String: email })));
  const info = new CertificationRequestInfo({ version: 0, subject, subjectPKInfo: AsnConvert.parse(spki, SubjectPublicKeyInfo) });
  const tbs = Buffer.from(AsnConvert.serialize(info));
  const signature = sign('sha256', tbs, privateKey);
  const csr = new CertificationRequest({
    certificationRequestInfo: info,
    signatureAlgorithm:
      type === 'ec'
        ? new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 })
        : new AlgorithmIdentifier({ algorithm: SHA256_WITH_RSA, parameters: DER_NULL }),
    signature: toArrayBuffer(signature),
  });
  const csrDer = Buffer.from(AsnConvert.serialize(csr));
  return {
    privateKey,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    csrDer,
    csrPem: pem('CERTIFICATE REQUEST', csrDer),
    type,
    publicKeyHash: sha256b64(spki),
  };
}

/** Reads a certificate (DER or PEM) with the library's parser; a problem instead of an exception. */
export function readCertificate(bytes: Uint8Array): ParsedCertificate | KeyProblem {
  const der = certificateDer(bytes);
  if (der === null) return { code: 'CERT_UNREADABLE', message: 'the certificate is not one PEM or DER certificate' };
  try {
    return parseCertificate(der);
  } catch (err) {
    if (err instanceof CertificateError) return { code: 'CERT_UNREADABLE', message: `the certificate is invalid: ${err.message}` };
    throw err;
  }
}

export function summarize(cert: ParsedCertificate, now: Date): CertificateSummary {
  const uid = subjectUserId(cert);
  const cn = subjectCommonName(cert);
  const fromCn = cn?.replace(/^(Apple Pay Payment Processing:|Merchant ID:)\s*/, '') ?? null;
  return {
    merchantIdentifier: uid ?? (fromCn !== cn ? fromCn : null),
    publicKeyHash: sha256b64(cert.spki),
    type: cert.keyType === 'rsa' ? 'rsa' : cert.keyType === 'ec-p256' ? 'ec' : 'other',
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    daysLeft: Math.floor((cert.notAfter.getTime() - now.getTime()) / DAY_MS),
    subject: cn,
  };
}

/** What is wrong with this certificate as a Payment Processing certificate, key aside. */
export function certificateProblems(cert: ParsedCertificate, now: Date, warnDays: number): KeyProblem[] {
  const problems: KeyProblem[] = [];
  const hash = merchantIdentifierHash(cert);
  if (hash === null) {
    problems.push({
      code: 'NOT_APPLE_PAY_CERTIFICATE',
      message:
        'the certificate has no Apple merchant identifier extension (1.2.840.113635.100.6.32): it is not an Apple Pay merchant certificate',
    });
  } else {
    if (merchantCertificateKind(cert) === 'merchant-identity') {
      problems.push({ code: 'MERCHANT_IDENTITY_CERTIFICATE', message: `the certificate ${MERCHANT_IDENTITY_MESSAGE}` });
    }
    const uid = subjectUserId(cert);
    if (uid !== null && !createHash('sha256').update(uid, 'utf8').digest().equals(hash)) {
      problems.push({
        code: 'MERCHANT_ID_MISMATCH',
        message: `the merchant identifier extension is not the hash of the subject's identifier ${JSON.stringify(uid)}`,
      });
    }
  }
  if (cert.keyType !== 'ec-p256' && !(cert.keyType === 'rsa' && cert.rsaBits >= 2048)) {
    problems.push({ code: 'UNSUPPORTED_KEY', message: 'the certificate key is neither EC P-256 nor RSA of 2048 bits or more' });
  }
  const t = now.getTime();
  if (t < cert.notBefore.getTime())
    problems.push({ code: 'NOT_YET_VALID', message: `the certificate is valid from ${cert.notBefore.toISOString()}` });
  else if (t > cert.notAfter.getTime())
    problems.push({ code: 'EXPIRED', message: `the certificate expired on ${cert.notAfter.toISOString()}` });
  else if (cert.notAfter.getTime() - t <= warnDays * DAY_MS) {
    const days = Math.floor((cert.notAfter.getTime() - t) / DAY_MS);
    problems.push({
      code: 'EXPIRES_SOON',
      message: `the certificate expires on ${cert.notAfter.toISOString()}, in ${days} day(s): renew it now (activation takes effect at once, so configure both keys first)`,
    });
  }
  return problems;
}

/**
 * Whether the key belongs to the certificate, judged by the library's own key loader (every format the
 * verifier reads: PEM/DER PKCS#8, SEC1, PKCS#1, encrypted PKCS#8, PKCS#12).
 */
export function keyProblem(cert: ParsedCertificate, key: Uint8Array, passphrase: string | undefined): KeyProblem | null {
  try {
    createVerifier({ merchants: { certificate: cert.der, privateKey: key, ...(passphrase === undefined ? {} : { passphrase }) } });
    return null;
  } catch (err) {
    if (!isApplePayError(err)) throw err;
    if (err.code === 'MERCHANT_KEY_INVALID') {
      return /does not belong/.test(err.message)
        ? { code: 'KEY_MISMATCH', message: 'the private key does not belong to the certificate' }
        : { code: 'KEY_UNREADABLE', message: err.message.replace(/^merchants\[0\]\.privateKey/, 'the private key') };
    }
    // Certificate problems are reported by certificateProblems.
    return null;
  }
}

/** A private key as node:crypto reads it (PEM or DER; PKCS#8, SEC1, PKCS#1; encrypted PKCS#8). */
export function readPrivateKey(bytes: Uint8Array, passphrase: string | undefined): KeyObject | null {
  const buf = Buffer.from(bytes);
  const attempts: Parameters<typeof createPrivateKey>[0][] = buf.includes('-----BEGIN')
    ? [{ key: buf, format: 'pem', ...(passphrase === undefined ? {} : { passphrase }) }]
    : [
        { key: buf, format: 'der', type: 'pkcs8', ...(passphrase === undefined ? {} : { passphrase }) },
        { key: buf, format: 'der', type: 'sec1' },
        { key: buf, format: 'der', type: 'pkcs1' },
      ];
  for (const a of attempts) {
    try {
      return createPrivateKey(a);
    } catch {
      // next format
    }
  }
  return null;
}

// ---------------------------------------------------------------------------
// PKCS#12 (RFC 7292): the certificate in a certBag, the key in a pkcs8ShroudedKeyBag encrypted by
// node:crypto with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), and an HMAC-SHA256 MAC keyed by the
// PKCS#12 KDF: the profile `openssl pkcs12 -export` writes by default since OpenSSL 3.

const OID_DATA = '1.2.840.113549.1.7.1';
const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
const OID_CERT_BAG = '1.2.840.113549.1.12.10.1.3';
const OID_SHROUDED_KEY_BAG = '1.2.840.113549.1.12.10.1.2';
const OID_X509_CERT = '1.2.840.113549.1.9.22.1';
const OID_LOCAL_KEY_ID = '1.2.840.113549.1.9.21';
const OID_FRIENDLY_NAME = '1.2.840.113549.1.9.20';
const PKCS12_ITERATIONS = 2048;

/** RFC 7292 appendix B.2 with SHA-256 (u = 32, v = 64); the password as BMPString with its terminating zero. */
function pkcs12Kdf(password: string, salt: Buffer, id: number, iterations: number, length: number): Buffer {
  const u = 32;
  const v = 64;
  const pass = password.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from(password, 'utf16le').swap16(), Buffer.alloc(2)]);
  const fill = (src: Buffer): Buffer => {
    if (src.length === 0) return Buffer.alloc(0);
    const out = Buffer.alloc(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const D = Buffer.alloc(v, id);
  let I = Buffer.concat([fill(salt), fill(pass)]);
  pass.fill(0);
  const out: Buffer[] = [];
  let produced = 0;
  while (produced < length) {
    let A = createHash('sha256').update(D).update(I).digest();
    for (let i = 1; i < iterations; i++) A = createHash('sha256').update(A).digest();
    out.push(A);
    produced += u;
    if (produced >= length) break;
    const B = fill(A).subarray(0, v);
    const next = Buffer.alloc(I.length);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k]! + B[k]! + carry;
        next[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
    I.fill(0);
    I = next;
  }
  I.fill(0);
  return Buffer.concat(out).subarray(0, length);
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function attribute(oid: string, value: ArrayBuffer): PKCS12Attribute {
  // PKCS12Attribute's constructor drops its parameters: set the fields.
  const a = new PKCS12Attribute();
  a.attrId = oid;
  a.attrValues = [value];
  return a;
}

function dataContentInfo(der: Uint8Array): ContentInfo {
  return new ContentInfo({ contentType: OID_DATA, content: AsnConvert.serialize(new OctetString(toArrayBuffer(der))) });
}

/** A PKCS#12 file holding the certificate and its key, protected by `passphrase` (at least 8 characters). */
export function buildPkcs12(certificateDerBytes: Uint8Array, privateKey: KeyObject, passphrase: string, friendlyName: string): Buffer {
  const localKeyId = AsnConvert.serialize(new OctetString(toArrayBuffer(createHash('sha256').update(certificateDerBytes).digest())));
  const bmp = Buffer.from(friendlyName, 'utf16le').swap16();
  const friendly = toArrayBuffer(Buffer.concat([Buffer.from([0x1e]), derLength(bmp.length), bmp]));
  const attrs = [attribute(OID_LOCAL_KEY_ID, localKeyId), attribute(OID_FRIENDLY_NAME, friendly)];

  const certBag = new SafeBag({
    bagId: OID_CERT_BAG,
    bagValue: AsnConvert.serialize(
      new CertBag({ certId: OID_X509_CERT, certValue: AsnConvert.serialize(new OctetString(toArrayBuffer(certificateDerBytes))) }),
    ),
    bagAttributes: attrs,
  });
  const encryptedKey = privateKey.export({ type: 'pkcs8', format: 'der', cipher: 'aes-256-cbc', passphrase });
  const keyBag = new SafeBag({ bagId: OID_SHROUDED_KEY_BAG, bagValue: toArrayBuffer(encryptedKey), bagAttributes: attrs });

  const safe = new AuthenticatedSafe([
    dataContentInfo(Buffer.from(AsnConvert.serialize(new SafeContents([certBag])))),
    dataContentInfo(Buffer.from(AsnConvert.serialize(new SafeContents([keyBag])))),
  ]);
  const authSafeDer = Buffer.from(AsnConvert.serialize(safe));
  const salt = randomBytes(16);
  const macKey = pkcs12Kdf(passphrase, salt, 3, PKCS12_ITERATIONS, 32);
  const mac = createHmac('sha256', macKey).update(authSafeDer).digest();
  macKey.fill(0);
  const pfx = new PFX({
    version: 3,
    authSafe: dataContentInfo(authSafeDer),
    macData: new MacData({
      mac: new DigestInfo({
        digestAlgorithm: new AlgorithmIdentifier({ algorithm: OID_SHA256, parameters: DER_NULL }),
        digest: new OctetString(toArrayBuffer(mac)),
      }),
      macSalt: new OctetString(toArrayBuffer(salt)),
      iterations: PKCS12_ITERATIONS,
    }),
  });
  return Buffer.from(AsnConvert.serialize(pfx));
}

/** The public key of a private key, as SPKI DER: to compare with a certificate's. */
export function spkiOf(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}
