/**
 * Test PKIs: Apple-shaped root, intermediate, signing leaves and merchant certificates on fresh keys,
 * issued with x509.ts, and their on-disk form (PEM files plus manifest.json) so a suite keeps one PKI.
 * The package's own corpus PKI (test-vectors/pki/) is issued by the same code with Apple's names.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { MerchantTarget, MintingPki, Signer } from './mint.js';
import {
  appleIntermediateSpec,
  appleLeafSpec,
  appleRootSpec,
  issueCertificate,
  merchantIdHash,
  merchantIdHashHex,
  merchantSpec,
  spkiDer,
  testNames,
  TEST_ONLY_MARKER,
  toPem,
  wwdrSpec,
  type CertificateSpec,
  type Name,
} from './x509.js';

export type AuthorityName = 'root' | 'intermediate' | 'leafEc' | 'leafRsa' | 'wwdr';

export const AUTHORITY_NAMES: readonly AuthorityName[] = ['root', 'intermediate', 'leafEc', 'leafRsa', 'wwdr'];

/** One certificate of a test PKI with its private key. */
export interface PkiEntity extends Signer {
  name: string;
  /** The certificate, PEM. */
  certificate: string;
  /** The private key, unencrypted PKCS#8 PEM. Test keys only: never protect anything with them. */
  privateKey: string;
  /** The certificate, DER. */
  certDer: Buffer;
  /** Same as `certificate`. */
  certPem: string;
  x509: X509Certificate;
  /** The private key. */
  key: KeyObject;
  publicKey: KeyObject;
  spkiDer: Buffer;
}

/** A merchant's payment-processing certificate and key. */
export interface TestMerchant extends PkiEntity, MerchantTarget {
  /** The merchant identifier, e.g. "merchant.com.example.test". */
  identifier: string;
  /** SHA-256(identifier), 32 bytes. */
  identifierHash: Buffer;
  /** SHA-256(SPKI DER): what header.publicKeyHash of a token for this merchant decodes to. */
  publicKeyHash: Buffer;
  keyType: 'EC' | 'RSA';
}

/**
 * A test PKI. Configure a verifier with `rootCertificate` and a merchant's `certificate` and
 * `privateKey` (or use `testVerifierOptions`); mint tokens with `mintToken`.
 */
export interface TestPki extends MintingPki {
  /** The trust anchor, PEM: its subject says "TEST ONLY". */
  readonly rootCertificate: string;
  readonly root: PkiEntity;
  /** Carries the intermediate marker 1.2.840.113635.100.6.2.14; tokens carry it. */
  readonly intermediate: PkiEntity;
  /** Signs EC_v1 tokens (P-256), leaf marker 1.2.840.113635.100.6.29. */
  readonly leafEc: PkiEntity;
  /** Signs RSA_v1 tokens (RSA-2048), leaf marker 1.2.840.113635.100.6.29. */
  readonly leafRsa: PkiEntity;
  /** Issues the merchant certificates; tokens never carry it. */
  readonly wwdr: PkiEntity;
  /** `ec` (P-256, for EC_v1) and `rsa` (RSA-2048, for RSA_v1), plus any extra merchants asked for. */
  readonly merchants: Readonly<Record<string, TestMerchant>> & { readonly ec: TestMerchant; readonly rsa: TestMerchant };
  /** Writes the PKI as PEM files and manifest.json into `dir` (created if missing); `loadTestPki(dir)` reads it back. */
  save(dir: string): void;
  /** The PKI as a JSON-able object of PEM strings; `loadTestPki(object)` reads it back. */
  toJSON(): SavedTestPki;
}

/** `pki.toJSON()`: everything as PEM strings. */
export interface SavedTestPki {
  format: typeof SAVED_FORMAT;
  authorities: Record<AuthorityName, { certificate: string; privateKey: string }>;
  merchants: Record<string, { identifier: string; certificate: string; privateKey: string }>;
}

export const SAVED_FORMAT = 'applepay-verify-test-pki/1';

// ---------------------------------------------------------------------------
// manifest.json: the directory form (also the layout of test-vectors/pki/)

export interface AuthorityEntry {
  role: string;
  cert: string;
  key: string;
  keyType: string;
  issuer: AuthorityName;
  subject: string;
  serialHex: string;
  notBefore: string;
  notAfter: string;
  sha256: string;
}

export interface MerchantEntry extends Omit<AuthorityEntry, 'issuer'> {
  issuer: 'wwdr';
  identifier: string;
  /** hex(SHA-256(identifier)), uppercase, as in extension 1.2.840.113635.100.6.32. */
  identifierHashHex: string;
  /** base64(SHA-256(SPKI DER)): the header.publicKeyHash of tokens encrypted to this merchant. */
  publicKeyHash: string;
  /** PKCS#12 files, where the writer made them (the package's corpus PKI does). */
  p12?: string | null;
  p12NoPassphrase?: string | null;
}

export interface PkiManifest {
  description: string;
  generator: string;
  generatedAt: string;
  p12Passphrase?: string;
  authorities: Record<AuthorityName, AuthorityEntry>;
  merchants: Record<string, MerchantEntry>;
}

const AUTHORITY_FILES: Record<AuthorityName, string> = {
  root: 'root',
  intermediate: 'intermediate',
  leafEc: 'leaf-ec',
  leafRsa: 'leaf-rsa',
  wwdr: 'wwdr',
};

const AUTHORITY_ROLES: Record<AuthorityName, string> = {
  root: 'Trust anchor (test only): configure it as rootCertificate in tests.',
  intermediate: 'Intermediate with marker 1.2.840.113635.100.6.2.14, signed by root.',
  leafEc: 'EC_v1 payment-signing leaf (P-256) with marker 1.2.840.113635.100.6.29, signed by intermediate.',
  leafRsa: 'RSA_v1 payment-signing leaf (RSA-2048) with marker 1.2.840.113635.100.6.29, signed by intermediate.',
  wwdr: 'CA that issues the merchant certificates, signed by root; tokens never carry it.',
};

const ISSUERS: Record<AuthorityName, AuthorityName> = {
  root: 'root',
  intermediate: 'root',
  leafEc: 'intermediate',
  leafRsa: 'intermediate',
  wwdr: 'root',
};

/** `merchant-` plus the name in kebab case: ec -> merchant-ec, ecRotated -> merchant-ec-rotated. */
export function merchantFileName(name: string): string {
  return `merchant-${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

export function describeKey(key: KeyObject): string {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') return `RSA-${d?.modulusLength ?? '?'}`;
  const curve = d?.namedCurve === 'prime256v1' ? 'P-256' : d?.namedCurve === 'secp384r1' ? 'P-384' : d?.namedCurve;
  return `EC ${curve ?? '?'}`;
}

function describeCert(entity: PkiEntity, role: string, keyFile: string, certFile: string): Omit<AuthorityEntry, 'issuer'> {
  return {
    role,
    cert: certFile,
    key: keyFile,
    keyType: describeKey(entity.key),
    subject: entity.x509.subject.replace(/\n/g, ', '),
    serialHex: entity.x509.serialNumber.toUpperCase(),
    notBefore: new Date(entity.x509.validFrom).toISOString(),
    notAfter: new Date(entity.x509.validTo).toISOString(),
    sha256: createHash('sha256').update(entity.certDer).digest('hex').toUpperCase(),
  };
}

// ---------------------------------------------------------------------------
// Building

function entity(name: string, certDer: Buffer, key: KeyObject): PkiEntity {
  const x509 = new X509Certificate(certDer);
  const publicKey = createPublicKey(key);
  const spki = spkiDer(publicKey);
  if (!x509.publicKey.export({ type: 'spki', format: 'der' }).equals(spki)) {
    throw new Error(`test PKI: the ${name} certificate does not match its private key`);
  }
  const certPem = toPem(certDer);
  return {
    name,
    certificate: certPem,
    privateKey: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certDer,
    certPem,
    x509,
    key,
    publicKey,
    spkiDer: spki,
  };
}

function merchantEntity(name: string, identifier: string, certDer: Buffer, key: KeyObject): TestMerchant {
  const base = entity(name, certDer, key);
  return {
    ...base,
    identifier,
    identifierHash: merchantIdHash(identifier),
    publicKeyHash: createHash('sha256').update(base.spkiDer).digest(),
    keyType: key.asymmetricKeyType === 'rsa' ? 'RSA' : 'EC',
  };
}

export interface AssembleParts {
  authorities: Record<AuthorityName, PkiEntity>;
  merchants: Record<string, TestMerchant>;
}

/** Wraps issued or loaded parts into a TestPki. */
export function assemblePki(parts: AssembleParts): TestPki {
  const { ec, rsa } = parts.merchants;
  if (!ec || ec.keyType !== 'EC') throw new Error('test PKI: merchant "ec" must be an EC merchant');
  if (!rsa || rsa.keyType !== 'RSA') throw new Error('test PKI: merchant "rsa" must be an RSA merchant');
  const merchants = Object.freeze({ ...parts.merchants, ec, rsa });
  const a = parts.authorities;
  const pki: TestPki = {
    rootCertificate: a.root.certificate,
    root: a.root,
    intermediate: a.intermediate,
    leafEc: a.leafEc,
    leafRsa: a.leafRsa,
    wwdr: a.wwdr,
    merchants,
    save: (dir) => writePkiDir(pki, dir),
    toJSON: () => ({
      format: SAVED_FORMAT,
      authorities: Object.fromEntries(
        AUTHORITY_NAMES.map((n) => [n, { certificate: a[n].certificate, privateKey: a[n].privateKey }]),
      ) as SavedTestPki['authorities'],
      merchants: Object.fromEntries(
        Object.entries(merchants).map(([n, m]) => [n, { identifier: m.identifier, certificate: m.certificate, privateKey: m.privateKey }]),
      ),
    }),
  };
  return pki;
}

export interface IssuePkiParams {
  keys: Record<AuthorityName, KeyObject>;
  merchants: readonly { name: string; identifier: string; key: KeyObject }[];
  /** Subject names per authority; default Apple's (the package's corpus). The kit passes testNames(). */
  names?: Partial<Record<AuthorityName, Name>>;
  /** Validity of every certificate; default the per-role validity of x509.ts. */
  notBefore?: Date;
  notAfter?: Date;
  /** Random serials (the kit) instead of the stable per-role ones (the corpus). */
  randomSerials?: boolean;
}

function randomSerial(): Buffer {
  const s = randomBytes(8);
  s[0] = ((s[0] ?? 0) & 0x7f) | 0x10;
  return s;
}

/** Issues every certificate of a PKI on the given keys. */
export function issuePki(p: IssuePkiParams): TestPki {
  const names = p.names ?? {};
  const common = (): { notBefore?: Date; notAfter?: Date; serial?: Buffer } => ({
    ...(p.notBefore ? { notBefore: p.notBefore } : {}),
    ...(p.notAfter ? { notAfter: p.notAfter } : {}),
    ...(p.randomSerials ? { serial: randomSerial() } : {}),
  });
  const k = p.keys;
  const named = (n: AuthorityName): { subject?: Name } => (names[n] ? { subject: names[n] } : {});
  const issuedBy = (n: AuthorityName): { issuer?: Name } => (names[n] ? { issuer: names[n] } : {});
  const specs: Record<AuthorityName, CertificateSpec> = {
    root: appleRootSpec({ key: k.root, ...named('root'), ...common() }),
    intermediate: appleIntermediateSpec({
      key: k.intermediate,
      issuerKey: k.root,
      ...named('intermediate'),
      ...issuedBy('root'),
      ...common(),
    }),
    leafEc: appleLeafSpec({
      kind: 'EC',
      key: k.leafEc,
      issuerKey: k.intermediate,
      ...named('leafEc'),
      ...issuedBy('intermediate'),
      ...common(),
    }),
    leafRsa: appleLeafSpec({
      kind: 'RSA',
      key: k.leafRsa,
      issuerKey: k.intermediate,
      ...named('leafRsa'),
      ...issuedBy('intermediate'),
      ...common(),
    }),
    wwdr: wwdrSpec({ key: k.wwdr, issuerKey: k.root, ...named('wwdr'), ...issuedBy('root'), ...common() }),
  };
  const authorities = Object.fromEntries(AUTHORITY_NAMES.map((n) => [n, entity(n, issueCertificate(specs[n]), k[n])])) as Record<
    AuthorityName,
    PkiEntity
  >;
  const merchants: Record<string, TestMerchant> = {};
  for (const m of p.merchants) {
    const spec = merchantSpec({ identifier: m.identifier, key: m.key, issuerKey: k.wwdr, ...issuedBy('wwdr'), ...common() });
    merchants[m.name] = merchantEntity(m.name, m.identifier, issueCertificate(spec), m.key);
  }
  return assemblePki({ authorities, merchants });
}

export function newKey(type: 'EC' | 'RSA', curve: 'P-256' | 'P-384' = 'P-256'): KeyObject {
  return type === 'EC'
    ? generateKeyPairSync('ec', { namedCurve: curve }).privateKey
    : generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 }).privateKey;
}

// ---------------------------------------------------------------------------
// Saving and loading

/** Writes PEM files and manifest.json; returns the manifest (make-pki adds PKCS#12 entries to it). */
export function writePkiDir(
  pki: TestPki,
  dir: string,
  extra: { description?: string; generator?: string; roles?: Partial<Record<string, string>> } = {},
): PkiManifest {
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true });
  const write = (file: string, text: string, secret = false): void => writeFileSync(join(abs, file), text, secret ? { mode: 0o600 } : {});
  const authorities = {} as Record<AuthorityName, AuthorityEntry>;
  for (const n of AUTHORITY_NAMES) {
    const e = pki[n];
    const base = AUTHORITY_FILES[n];
    write(`${base}.pem`, e.certificate);
    write(`${base}.key.pem`, e.privateKey, true);
    authorities[n] = { ...describeCert(e, extra.roles?.[n] ?? AUTHORITY_ROLES[n], `${base}.key.pem`, `${base}.pem`), issuer: ISSUERS[n] };
  }
  const merchants: Record<string, MerchantEntry> = {};
  for (const [name, m] of Object.entries(pki.merchants)) {
    const base = merchantFileName(name);
    write(`${base}.pem`, m.certificate);
    write(`${base}.key.pem`, m.privateKey, true);
    merchants[name] = {
      ...describeCert(
        m,
        extra.roles?.[`merchant:${name}`] ?? `Merchant ${m.identifier} (${m.keyType === 'EC' ? 'EC_v1' : 'RSA_v1'}).`,
        `${base}.key.pem`,
        `${base}.pem`,
      ),
      issuer: 'wwdr',
      identifier: m.identifier,
      identifierHashHex: merchantIdHashHex(m.identifier),
      publicKeyHash: m.publicKeyHash.toString('base64'),
    };
  }
  const manifest: PkiManifest = {
    description:
      extra.description ??
      'TEST ONLY PKI made by applepay-verify/testing: Apple-shaped certificates on test keys. Not issued by Apple; never trust in production.',
    generator: extra.generator ?? 'applepay-verify/testing createTestPki()',
    generatedAt: new Date().toISOString(),
    authorities,
    merchants,
  };
  write('manifest.json', JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

function readDir(dir: string): { parts: AssembleParts; manifest: PkiManifest } {
  const abs = resolve(dir);
  const manifest = JSON.parse(readFileSync(join(abs, 'manifest.json'), 'utf8')) as PkiManifest;
  const load = (certFile: string, keyFile: string): { certDer: Buffer; key: KeyObject } => ({
    certDer: Buffer.from(new X509Certificate(readFileSync(join(abs, certFile))).raw),
    key: createPrivateKey(readFileSync(join(abs, keyFile))),
  });
  const authorities = {} as Record<AuthorityName, PkiEntity>;
  for (const n of AUTHORITY_NAMES) {
    const e = manifest.authorities[n];
    if (!e) throw new Error(`test PKI ${abs}: manifest.json has no ${n}`);
    const { certDer, key } = load(e.cert, e.key);
    authorities[n] = entity(n, certDer, key);
  }
  const merchants: Record<string, TestMerchant> = {};
  for (const [name, e] of Object.entries(manifest.merchants)) {
    const { certDer, key } = load(e.cert, e.key);
    merchants[name] = merchantEntity(name, e.identifier, certDer, key);
  }
  return { parts: { authorities, merchants }, manifest };
}

function readSaved(saved: SavedTestPki): AssembleParts {
  if (saved?.format !== SAVED_FORMAT) throw new Error(`not a saved test PKI (format ${JSON.stringify(saved?.format)})`);
  const authorities = {} as Record<AuthorityName, PkiEntity>;
  for (const n of AUTHORITY_NAMES) {
    const e = saved.authorities[n];
    if (!e) throw new Error(`saved test PKI has no ${n}`);
    authorities[n] = entity(n, Buffer.from(new X509Certificate(e.certificate).raw), createPrivateKey(e.privateKey));
  }
  const merchants: Record<string, TestMerchant> = {};
  for (const [name, e] of Object.entries(saved.merchants)) {
    merchants[name] = merchantEntity(
      name,
      e.identifier,
      Buffer.from(new X509Certificate(e.certificate).raw),
      createPrivateKey(e.privateKey),
    );
  }
  return { authorities, merchants };
}

/** Reads a directory written by `save` (or test-vectors/pki/), with its manifest. */
export function loadPkiDir(dir: string): { pki: TestPki; manifest: PkiManifest } {
  const { parts, manifest } = readDir(dir);
  return { pki: assemblePki(parts), manifest };
}

/**
 * Reads a PKI back from `pki.save(dir)`'s directory or from `pki.toJSON()`'s object (or its JSON text).
 * Refuses a PKI whose authorities do not all say "TEST ONLY" in their subject: what the kit mints always
 * comes from a root that is marked as a test root.
 */
export function loadTestPki(source: string | SavedTestPki): TestPki {
  let pki: TestPki;
  if (typeof source === 'string') {
    const text = source.trimStart();
    pki = text.startsWith('{') ? assemblePki(readSaved(JSON.parse(text) as SavedTestPki)) : loadPkiDir(source).pki;
  } else {
    pki = assemblePki(readSaved(source));
  }
  for (const n of AUTHORITY_NAMES) {
    if (!pki[n].x509.subject.includes(TEST_ONLY_MARKER)) {
      throw new Error(
        `not a TEST ONLY PKI: the ${n} certificate's subject lacks "${TEST_ONLY_MARKER}"; make one with createTestPki() or applepay-verify mint --init-pki`,
      );
    }
  }
  return pki;
}

export { testNames };
