/**
 * X.509 v3 issuance for test PKIs (the test kit's and the package's own corpus).
 *
 * Certificates are assembled with der.ts and signed with node:crypto, so every
 * field a verifier looks at can be set, left out or broken by a test. The
 * `*Spec` functions return the Apple-shaped defaults (names, key usages,
 * extension order, marker OIDs copied from real tokens' certificates) as plain
 * data: a negative test spreads a spec, changes one thing and calls
 * `issueCertificate`.
 */
import { createHash, createPublicKey, sign as cryptoSign, KeyObject } from 'node:crypto';
import * as der from './der.js';

export const OID = {
  // Name attributes
  commonName: '2.5.4.3',
  organizationalUnit: '2.5.4.11',
  organization: '2.5.4.10',
  country: '2.5.4.6',
  userId: '0.9.2342.19200300.100.1.1',
  // Signature algorithms
  ecdsaWithSHA1: '1.2.840.10045.4.1',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  ecdsaWithSHA512: '1.2.840.10045.4.3.4',
  sha1WithRSAEncryption: '1.2.840.113549.1.1.5',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  sha384WithRSAEncryption: '1.2.840.113549.1.1.12',
  sha512WithRSAEncryption: '1.2.840.113549.1.1.13',
  // Digests
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  // Certificate extensions
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  certificatePolicies: '2.5.29.32',
  crlDistributionPoints: '2.5.29.31',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  ocsp: '1.3.6.1.5.5.7.48.1',
  qtCps: '1.3.6.1.5.5.7.2.1',
  qtUnotice: '1.3.6.1.5.5.7.2.2',
  crlNumber: '2.5.29.20',
  // Apple
  applePolicy: '1.2.840.113635.100.5.1',
  appleLeafMarker: '1.2.840.113635.100.6.29',
  appleIntermediateMarker: '1.2.840.113635.100.6.2.14',
  appleMerchantId: '1.2.840.113635.100.6.32',
  // CMS
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  cmsAlgorithmProtection: '1.2.840.113549.1.9.52',
} as const;

// ---------------------------------------------------------------------------
// Algorithms

export type SignatureAlgorithmName = 'ecdsa-with-SHA256' | 'ecdsa-with-SHA384' | 'sha256WithRSAEncryption';

/** A signature algorithm as written into a certificate or SignerInfo, and the hash node uses to sign. */
export interface SignatureAlgorithm {
  oid: string;
  /** node:crypto digest name used when signing. */
  hash: string;
  /** RSA AlgorithmIdentifiers carry NULL parameters (RFC 4055); ECDSA ones carry none (RFC 5758). */
  nullParams: boolean;
}

const SIGNATURE_ALGORITHMS: Record<SignatureAlgorithmName, SignatureAlgorithm> = {
  'ecdsa-with-SHA256': { oid: OID.ecdsaWithSHA256, hash: 'sha256', nullParams: false },
  'ecdsa-with-SHA384': { oid: OID.ecdsaWithSHA384, hash: 'sha384', nullParams: false },
  sha256WithRSAEncryption: { oid: OID.sha256WithRSAEncryption, hash: 'sha256', nullParams: true },
};

const HASH_OF_SIGNATURE_OID: Record<string, string> = {
  [OID.ecdsaWithSHA1]: 'sha1',
  [OID.ecdsaWithSHA256]: 'sha256',
  [OID.ecdsaWithSHA384]: 'sha384',
  [OID.ecdsaWithSHA512]: 'sha512',
  [OID.sha1WithRSAEncryption]: 'sha1',
  [OID.sha256WithRSAEncryption]: 'sha256',
  [OID.sha384WithRSAEncryption]: 'sha384',
  [OID.sha512WithRSAEncryption]: 'sha512',
};

export const HASH_OF_DIGEST_OID: Record<string, string> = {
  [OID.sha1]: 'sha1',
  [OID.sha256]: 'sha256',
  [OID.sha384]: 'sha384',
  [OID.sha512]: 'sha512',
};

/**
 * Resolve a name, or describe an arbitrary OID. For an OID node does not know
 * (a test of an unsupported algorithm) the signature is still made with SHA-256
 * so that only the identifier is wrong.
 */
export function signatureAlgorithm(alg: SignatureAlgorithmName | SignatureAlgorithm | (string & {})): SignatureAlgorithm {
  if (typeof alg !== 'string') return alg;
  const named = SIGNATURE_ALGORITHMS[alg as SignatureAlgorithmName];
  if (named) return named;
  return {
    oid: alg,
    hash: HASH_OF_SIGNATURE_OID[alg] ?? 'sha256',
    nullParams: alg.startsWith('1.2.840.113549.1.1.'),
  };
}

export function algorithmIdentifier(oid: string, nullParams: boolean): Buffer {
  return der.sequence(nullParams ? [der.oid(oid), der.nullValue()] : [der.oid(oid)]);
}

export function signatureAlgorithmIdentifier(alg: SignatureAlgorithm): Buffer {
  return algorithmIdentifier(alg.oid, alg.nullParams);
}

/** Sign with node:crypto: ECDSA comes back DER-encoded (Ecdsa-Sig-Value), RSA as PKCS#1 v1.5. */
export function signBytes(hash: string, data: Buffer, key: KeyObject): Buffer {
  return cryptoSign(hash, data, key);
}

// ---------------------------------------------------------------------------
// Names

export type NameAttributeType = 'CN' | 'OU' | 'O' | 'C' | 'UID';

export interface NameAttribute {
  /** A short name or a dotted OID. */
  type: NameAttributeType | (string & {});
  value: string;
  /** Defaults as Apple encodes them: PrintableString for C, UTF8String otherwise. */
  stringType?: 'utf8' | 'printable' | 'ia5';
}

/** A Name as attributes (one per RDN, in order), or an already encoded Name. */
export type Name = readonly NameAttribute[] | Buffer;

const NAME_OIDS: Record<NameAttributeType, string> = {
  CN: OID.commonName,
  OU: OID.organizationalUnit,
  O: OID.organization,
  C: OID.country,
  UID: OID.userId,
};

export function encodeName(name: Name): Buffer {
  if (Buffer.isBuffer(name)) return name;
  return der.sequence(
    name.map((a) => {
      const type = NAME_OIDS[a.type as NameAttributeType] ?? a.type;
      const kind = a.stringType ?? (a.type === 'C' ? 'printable' : 'utf8');
      const value = kind === 'printable' ? der.printableString(a.value) : kind === 'ia5' ? der.ia5String(a.value) : der.utf8String(a.value);
      return der.set([der.sequence([der.oid(type), value])]);
    }),
  );
}

function appleCaName(cn: string): NameAttribute[] {
  return [
    { type: 'CN', value: cn },
    { type: 'OU', value: 'Apple Certification Authority' },
    { type: 'O', value: 'Apple Inc.' },
    { type: 'C', value: 'US' },
  ];
}

export const NAMES = {
  root: appleCaName('Apple Root CA - G3'),
  intermediate: appleCaName('Apple Application Integration CA - G3'),
  wwdr: appleCaName('Apple Worldwide Developer Relations CA - G2'),
  leafEc: [
    { type: 'CN', value: 'ecc-smp-broker-sign_UC4-PROD' },
    { type: 'OU', value: 'iOS Systems' },
    { type: 'O', value: 'Apple Inc.' },
    { type: 'C', value: 'US' },
  ] as NameAttribute[],
  leafRsa: [
    { type: 'CN', value: 'rsa-smp-broker-sign_UC4-PROD' },
    { type: 'OU', value: 'iOS Systems' },
    { type: 'O', value: 'Apple Inc.' },
    { type: 'C', value: 'US' },
  ] as NameAttribute[],
  merchant(identifier: string, teamId = 'TESTTEAM01', organization = 'Test Merchant Inc.'): NameAttribute[] {
    return [
      { type: 'UID', value: identifier },
      { type: 'CN', value: `Apple Pay Payment Processing:${identifier}` },
      { type: 'OU', value: teamId },
      { type: 'O', value: organization },
      { type: 'C', value: 'US' },
    ];
  },
};

/** Marks every authority a test PKI from the kit issues: it appears in each subject's CN and OU. */
export const TEST_ONLY_MARKER = 'TEST ONLY';

function testCaName(cn: string): NameAttribute[] {
  return [
    { type: 'CN', value: `applepay-verify ${TEST_ONLY_MARKER} ${cn}` },
    { type: 'OU', value: `${TEST_ONLY_MARKER} - not issued by Apple` },
    { type: 'O', value: 'applepay-verify test kit' },
    { type: 'C', value: 'US' },
  ];
}

/**
 * The test kit's names: Apple's structure with a "TEST ONLY" marker in every authority's subject,
 * so that a test root configured in production is obvious in any certificate dump or log.
 * `label` tells several PKIs apart (e.g. "other" for the other-root mutator).
 */
export function testNames(label?: string): {
  root: NameAttribute[];
  intermediate: NameAttribute[];
  wwdr: NameAttribute[];
  leafEc: NameAttribute[];
  leafRsa: NameAttribute[];
} {
  const suffix = label ? ` (${label})` : '';
  return {
    root: testCaName(`Root CA${suffix}`),
    intermediate: testCaName(`Application Integration CA${suffix}`),
    wwdr: testCaName(`Merchant CA${suffix}`),
    leafEc: testCaName(`ecc-smp-broker-sign${suffix}`),
    leafRsa: testCaName(`rsa-smp-broker-sign${suffix}`),
  };
}

// ---------------------------------------------------------------------------
// Keys

export function publicKeyOf(key: KeyObject): KeyObject {
  return key.type === 'private' ? createPublicKey(key) : key;
}

export function spkiDer(key: KeyObject | Buffer): Buffer {
  return Buffer.isBuffer(key) ? key : publicKeyOf(key).export({ type: 'spki', format: 'der' });
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value, unused-bits octet excluded. */
export function keyIdentifier(key: KeyObject | Buffer): Buffer {
  const spki = der.readTlv(spkiDer(key), 0);
  const bits = der.children(spki)[1];
  if (!bits || bits.identifier !== der.Tag.BIT_STRING) throw new Error('SPKI without BIT STRING');
  return createHash('sha1').update(bits.value.subarray(1)).digest();
}

// ---------------------------------------------------------------------------
// Extensions

export interface Extension {
  oid: string;
  critical?: boolean;
  /** Contents of extnValue (the DER the OCTET STRING wraps). */
  value: Buffer;
}

export function encodeExtension(e: Extension): Buffer {
  return der.sequence([der.oid(e.oid), ...(e.critical ? [der.boolean(true)] : []), der.octetString(e.value)]);
}

/** KeyUsage bit numbers (RFC 5280 4.2.1.3). */
export const KeyUsageBit = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
} as const;

export const ext = {
  basicConstraints(ca: boolean, pathLen?: number, critical = true): Extension {
    const items = ca ? [der.boolean(true), ...(pathLen === undefined ? [] : [der.integer(pathLen)])] : [];
    return { oid: OID.basicConstraints, critical, value: der.sequence(items) };
  },

  /** Named bits in DER: trailing zero bits dropped and counted as unused (X.690 11.2.2). */
  keyUsage(bits: readonly (keyof typeof KeyUsageBit)[], critical = true): Extension {
    const positions = bits.map((b) => KeyUsageBit[b]);
    const highest = Math.max(...positions);
    const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
    for (const p of positions) bytes[p >> 3] = (bytes[p >> 3] ?? 0) | (0x80 >> (p & 7));
    return { oid: OID.keyUsage, critical, value: der.bitString(bytes, 7 - (highest % 8)) };
  },

  subjectKeyIdentifier(keyId: Buffer): Extension {
    return { oid: OID.subjectKeyIdentifier, value: der.octetString(keyId) };
  },

  authorityKeyIdentifier(keyId: Buffer): Extension {
    return { oid: OID.authorityKeyIdentifier, value: der.sequence([der.implicit(0, keyId, false)]) };
  },

  /** Apple's marker extensions carry NULL; only their presence is meant to matter. */
  marker(oid: string, value: Buffer = der.nullValue(), critical = false): Extension {
    return { oid, critical, value };
  },

  /** 1.2.840.113635.100.6.32: UTF8String of uppercase hex(SHA-256(merchant identifier)). */
  merchantId(identifier: string): Extension {
    return ext.merchantIdHex(merchantIdHashHex(identifier));
  },

  /** Same extension with any string, for malformed-hash tests (lowercase, short, non-hex). */
  merchantIdHex(hex: string): Extension {
    return { oid: OID.appleMerchantId, value: der.utf8String(hex) };
  },

  authorityInfoAccess(ocspUrl: string): Extension {
    return {
      oid: OID.authorityInfoAccess,
      value: der.sequence([der.sequence([der.oid(OID.ocsp), der.implicit(6, Buffer.from(ocspUrl, 'latin1'), false)])]),
    };
  },

  crlDistributionPoints(url: string): Extension {
    // DistributionPoint { distributionPoint [0] { fullName [0] { uniformResourceIdentifier [6] } } }
    const fullName = der.implicit(0, der.implicit(6, Buffer.from(url, 'latin1'), false), true);
    return { oid: OID.crlDistributionPoints, value: der.sequence([der.sequence([der.explicit(0, fullName)])]) };
  },

  /** Same structure as Apple's policy extension (user notice + CPS), with test wording. */
  certificatePolicies(policyOid: string = OID.applePolicy): Extension {
    const unotice = der.sequence([
      der.oid(OID.qtUnotice),
      der.sequence([der.utf8String('Test certificate for applepay-verify. Not issued by Apple; trust nothing signed by it.')]),
    ]);
    const cps = der.sequence([der.oid(OID.qtCps), der.ia5String('http://test.invalid/certificateauthority/')]);
    return {
      oid: OID.certificatePolicies,
      value: der.sequence([der.sequence([der.oid(policyOid), der.sequence([unotice, cps])])]),
    };
  },
};

export function merchantIdHash(identifier: string): Buffer {
  return createHash('sha256').update(identifier, 'utf8').digest();
}

export function merchantIdHashHex(identifier: string): string {
  return merchantIdHash(identifier).toString('hex').toUpperCase();
}

// ---------------------------------------------------------------------------
// Certificates

export interface CertificateSpec {
  /** X.509 version number (1..3); v1 omits the [0] field. Default 3. */
  version?: number;
  serial: bigint | Buffer;
  subject: Name;
  issuer: Name;
  notBefore: Date;
  notAfter: Date;
  /** The subject's key (public or private; only the public half is used) or raw SPKI DER. */
  publicKey: KeyObject | Buffer;
  /** The issuer's private key. */
  issuerKey: KeyObject;
  signatureAlgorithm: SignatureAlgorithmName | SignatureAlgorithm | (string & {});
  /** Written into TBSCertificate.signature when it should differ from the outer algorithm. */
  tbsSignatureAlgorithm?: SignatureAlgorithmName | SignatureAlgorithm | (string & {});
  extensions: readonly Extension[];
  /** Replace the signature value (e.g. a corrupted one). */
  signatureOverride?: Buffer;
}

export function encodeTbsCertificate(spec: CertificateSpec): Buffer {
  const alg = signatureAlgorithm(spec.tbsSignatureAlgorithm ?? spec.signatureAlgorithm);
  const version = spec.version ?? 3;
  return der.sequence([
    ...(version === 1 ? [] : [der.explicit(0, der.integer(version - 1))]),
    der.integer(spec.serial),
    signatureAlgorithmIdentifier(alg),
    encodeName(spec.issuer),
    der.sequence([der.x509Time(spec.notBefore), der.x509Time(spec.notAfter)]),
    encodeName(spec.subject),
    spkiDer(spec.publicKey),
    ...(spec.extensions.length > 0 ? [der.explicit(3, der.sequence(spec.extensions.map(encodeExtension)))] : []),
  ]);
}

/** Issue a certificate; returns its DER. */
export function issueCertificate(spec: CertificateSpec): Buffer {
  const alg = signatureAlgorithm(spec.signatureAlgorithm);
  const tbs = encodeTbsCertificate(spec);
  const sig = spec.signatureOverride ?? signBytes(alg.hash, tbs, spec.issuerKey);
  return der.sequence([tbs, signatureAlgorithmIdentifier(alg), der.bitString(sig)]);
}

export function toPem(derBytes: Buffer, label = 'CERTIFICATE'): string {
  const b64 = derBytes.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

/** A CRL with no entries, for CMS sets that carry one. */
export function issueEmptyCrl(opts: {
  issuer: Name;
  issuerKey: KeyObject;
  thisUpdate: Date;
  nextUpdate: Date;
  signatureAlgorithm?: SignatureAlgorithmName;
}): Buffer {
  const alg = signatureAlgorithm(opts.signatureAlgorithm ?? 'ecdsa-with-SHA256');
  const tbs = der.sequence([
    der.integer(1), // v2
    signatureAlgorithmIdentifier(alg),
    encodeName(opts.issuer),
    der.x509Time(opts.thisUpdate),
    der.x509Time(opts.nextUpdate),
    der.explicit(0, der.sequence([encodeExtension({ oid: OID.crlNumber, value: der.integer(1) })])),
  ]);
  return der.sequence([tbs, signatureAlgorithmIdentifier(alg), der.bitString(signBytes(alg.hash, tbs, opts.issuerKey))]);
}

/** Issuer Name (encoded) and serial (INTEGER encoding) of a DER certificate: a CMS SignerIdentifier's parts. */
export function issuerAndSerial(certDer: Buffer): { issuer: Buffer; serial: Buffer } {
  const tbs = der.children(der.readTlv(certDer, 0))[0];
  if (!tbs) throw new Error('not a certificate');
  const fields = der.children(tbs);
  const hasVersion = fields[0]?.identifier === 0xa0;
  const serial = fields[hasVersion ? 1 : 0];
  const issuer = fields[hasVersion ? 3 : 2];
  if (!serial || !issuer) throw new Error('truncated TBSCertificate');
  return { issuer: Buffer.from(issuer.encoded), serial: Buffer.from(serial.encoded) };
}

// ---------------------------------------------------------------------------
// Apple-shaped role specs. Extension lists and their order follow the 2023
// production certificates; the URLs point to .invalid so nothing is ever fetched.

export const VALIDITY = {
  root: { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2045-01-01T00:00:00Z') },
  intermediate: { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2040-01-01T00:00:00Z') },
  wwdr: { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2040-01-01T00:00:00Z') },
  leaf: { notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2034-01-01T00:00:00Z') },
  merchant: { notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2034-01-01T00:00:00Z') },
} as const;

/** A stable 8-byte positive serial per role, so re-issuing does not churn serials. */
export function serialFor(label: string): Buffer {
  const s = createHash('sha256').update(`applepay-verify test serial ${label}`).digest().subarray(0, 8);
  s[0] = ((s[0] ?? 0) & 0x7f) | 0x10;
  return s;
}

export interface RoleOptions {
  /** The subject key (private or public). */
  key: KeyObject;
  /** Subject name; default Apple's name for the role (the test kit passes TEST_NAMES). */
  subject?: Name;
  serial?: bigint | Buffer;
  notBefore?: Date;
  notAfter?: Date;
}

export interface IssuedRoleOptions extends RoleOptions {
  /** The issuer's private key. */
  issuerKey: KeyObject;
  /** Issuer name: the issuing certificate's subject; default Apple's name for the issuing role. */
  issuer?: Name;
}

/** What every role Apple's CAs issue shares; each option overrides Apple's default for the role. */
function issuedSpec(
  o: IssuedRoleOptions,
  defaults: { serial: string; subject: Name; issuer: Name; validity: { readonly notBefore: Date; readonly notAfter: Date } },
  extensions: readonly Extension[],
): CertificateSpec {
  return {
    serial: o.serial ?? serialFor(defaults.serial),
    subject: o.subject ?? defaults.subject,
    issuer: o.issuer ?? defaults.issuer,
    notBefore: o.notBefore ?? defaults.validity.notBefore,
    notAfter: o.notAfter ?? defaults.validity.notAfter,
    publicKey: o.key,
    issuerKey: o.issuerKey,
    signatureAlgorithm: 'ecdsa-with-SHA256',
    extensions,
  };
}

/**
 * "Apple Root CA - G3" names on our own P-384 key. Apple's root has only SKI,
 * basicConstraints and keyUsage, and is self-signed with ecdsa-with-SHA384.
 */
export function appleRootSpec(o: RoleOptions): CertificateSpec {
  return {
    serial: o.serial ?? serialFor('root'),
    subject: o.subject ?? NAMES.root,
    issuer: o.subject ?? NAMES.root,
    notBefore: o.notBefore ?? VALIDITY.root.notBefore,
    notAfter: o.notAfter ?? VALIDITY.root.notAfter,
    publicKey: o.key,
    issuerKey: o.key,
    signatureAlgorithm: 'ecdsa-with-SHA384',
    extensions: [ext.subjectKeyIdentifier(keyIdentifier(o.key)), ext.basicConstraints(true), ext.keyUsage(['keyCertSign', 'cRLSign'])],
  };
}

/**
 * "Apple Application Integration CA - G3". Apple's real one is signed by the
 * P-384 root with ecdsa-with-SHA256 (not SHA-384), so that is the default here.
 */
export function appleIntermediateSpec(o: IssuedRoleOptions): CertificateSpec {
  return issuedSpec(o, { serial: 'intermediate', subject: NAMES.intermediate, issuer: NAMES.root, validity: VALIDITY.intermediate }, [
    ext.authorityInfoAccess('http://ocsp.test.invalid/ocsp04-applerootcag3'),
    ext.subjectKeyIdentifier(keyIdentifier(o.key)),
    ext.basicConstraints(true),
    ext.authorityKeyIdentifier(keyIdentifier(o.issuerKey)),
    ext.crlDistributionPoints('http://crl.test.invalid/applerootcag3.crl'),
    ext.keyUsage(['keyCertSign', 'cRLSign']),
    ext.marker(OID.appleIntermediateMarker),
  ]);
}

/** The payment-signing leaf: ecc-smp-broker-sign_UC4-PROD (P-256) or rsa-smp-broker-sign_UC4-PROD (RSA-2048). */
export function appleLeafSpec(o: IssuedRoleOptions & { kind: 'EC' | 'RSA' }): CertificateSpec {
  return issuedSpec(
    o,
    {
      serial: `leaf-${o.kind}`,
      subject: o.kind === 'EC' ? NAMES.leafEc : NAMES.leafRsa,
      issuer: NAMES.intermediate,
      validity: VALIDITY.leaf,
    },
    [
      ext.basicConstraints(false),
      ext.authorityKeyIdentifier(keyIdentifier(o.issuerKey)),
      ext.authorityInfoAccess('http://ocsp.test.invalid/ocsp04-appleaica302'),
      ext.certificatePolicies(),
      ext.crlDistributionPoints('http://crl.test.invalid/appleaica3.crl'),
      ext.subjectKeyIdentifier(keyIdentifier(o.key)),
      ext.keyUsage(['digitalSignature']),
      ext.marker(OID.appleLeafMarker),
    ],
  );
}

/** The CA that issues merchant certificates (Apple's WWDR CA - G2 is signed by Root CA - G3). */
export function wwdrSpec(o: IssuedRoleOptions): CertificateSpec {
  return issuedSpec(o, { serial: 'wwdr', subject: NAMES.wwdr, issuer: NAMES.root, validity: VALIDITY.wwdr }, [
    ext.authorityInfoAccess('http://ocsp.test.invalid/ocsp03-applerootcag3'),
    ext.subjectKeyIdentifier(keyIdentifier(o.key)),
    ext.basicConstraints(true, 0),
    ext.authorityKeyIdentifier(keyIdentifier(o.issuerKey)),
    ext.crlDistributionPoints('http://crl.test.invalid/applerootcag3.crl'),
    ext.keyUsage(['keyCertSign', 'cRLSign']),
  ]);
}

/** A merchant's Apple Pay Payment Processing certificate: subject UID = identifier, .6.32 = hex(SHA-256(identifier)). */
export function merchantSpec(o: IssuedRoleOptions & { identifier: string; teamId?: string; organization?: string }): CertificateSpec {
  return issuedSpec(
    o,
    {
      serial: `merchant ${o.identifier} ${keyIdentifier(o.key).toString('hex')}`,
      subject: NAMES.merchant(o.identifier, o.teamId, o.organization),
      issuer: NAMES.wwdr,
      validity: VALIDITY.merchant,
    },
    [
      ext.basicConstraints(false),
      ext.authorityKeyIdentifier(keyIdentifier(o.issuerKey)),
      ext.authorityInfoAccess('http://ocsp.test.invalid/ocsp04-applewwdrca201'),
      ext.certificatePolicies(),
      ext.crlDistributionPoints('http://crl.test.invalid/applewwdrca2.crl'),
      ext.subjectKeyIdentifier(keyIdentifier(o.key)),
      ext.keyUsage(['keyEncipherment', 'keyAgreement']),
      ext.merchantId(o.identifier),
    ],
  );
}
