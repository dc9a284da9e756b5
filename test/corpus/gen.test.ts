/**
 * Proves the token generator right by means independent of the library's verifier:
 * the openssl CLI for CMS and chain checks, node's X509Certificate for the
 * certificates, a decryptor written here (different node:crypto paths, checked
 * first on real tokens) for the encryption, and asn1js for the CMS layout
 * compared with real tokens.
 */
import { spawnSync } from 'node:child_process';
import {
  createDecipheriv,
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  constants as cryptoConstants,
  generateKeyPairSync,
  privateDecrypt,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import * as asn1js from 'asn1js';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTestPki, mintToken, type MintOptions, type PaymentData } from '../../test-vectors/gen/token.js';
import { OID } from '../../test-vectors/gen/pki.js';
import * as der from '../../test-vectors/gen/der.js';

const ROOT = new URL('../../test-vectors/', import.meta.url);
const pki = loadTestPki();
const T = new Date('2025-06-01T12:00:00Z');

const HAVE_OPENSSL = spawnSync('openssl', ['version']).status === 0;
const itOpenssl = it.skipIf(!HAVE_OPENSSL);

const tmp = mkdtempSync(join(tmpdir(), 'applepay-gen-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let tmpCounter = 0;
function tmpFile(content: Buffer | string, ext = 'bin'): string {
  const p = join(tmp, `f${tmpCounter++}.${ext}`);
  writeFileSync(p, content);
  return p;
}

function realDir(set: string): URL {
  return new URL(`real/${set}/`, ROOT);
}
function realToken(set: string): PaymentData {
  return JSON.parse(readFileSync(new URL('token.json', realDir(set)), 'utf8')) as PaymentData;
}

// ---------------------------------------------------------------------------
// Independent helpers

/** Certificates of a CMS SignedData, as their original bytes (asn1js). */
function cmsCertificates(cms: Buffer): Buffer[] {
  const ci = asn1js.fromBER(new Uint8Array(cms).buffer);
  if (ci.offset === -1) throw new Error(ci.result.error);
  const outer = ci.result.valueBlock as unknown as { value: asn1js.AsnType[] };
  const explicit0 = outer.value[1] as unknown as { valueBlock: { value: asn1js.AsnType[] } };
  const signedData = explicit0.valueBlock.value[0] as unknown as { valueBlock: { value: asn1js.AsnType[] } };
  const certSet = signedData.valueBlock.value.find((e) => e.idBlock.tagClass === 3 && e.idBlock.tagNumber === 0) as
    { valueBlock: { value: asn1js.AsnType[] } } | undefined;
  if (!certSet) return [];
  return certSet.valueBlock.value
    .filter((c) => c.idBlock.tagClass === 1 && c.idBlock.tagNumber === 16)
    .map((c) => Buffer.from(c.valueBeforeDecodeView));
}

/**
 * The layout of a BER element: tag class/number, constructed, indefinite length, and
 * OIDs, without any other values. Elements for which `stopAt` holds are listed but
 * not entered: certificates inside a CMS get their own comparison.
 */
function skeleton(buf: Buffer, stopAt?: (path: number[]) => boolean): string[] {
  const parsed = asn1js.fromBER(new Uint8Array(buf).buffer);
  if (parsed.offset === -1) throw new Error(parsed.result.error);
  const out: string[] = [];
  const walk = (el: asn1js.AsnType, path: number[]): void => {
    const cls = ['', 'U', 'A', 'C', 'P'][el.idBlock.tagClass] ?? '?';
    const indefinite = (el.lenBlock as { isIndefiniteForm: boolean }).isIndefiniteForm ? ' inf' : '';
    const oid = el instanceof asn1js.ObjectIdentifier ? ` ${el.valueBlock.toString()}` : '';
    out.push(`${'  '.repeat(path.length)}${cls}${el.idBlock.tagNumber}${el.idBlock.isConstructed ? 'c' : 'p'}${indefinite}${oid}`);
    if (!el.idBlock.isConstructed || stopAt?.(path)) return;
    const kids = (el.valueBlock as unknown as { value: asn1js.AsnType[] }).value;
    kids.forEach((k, i) => walk(k, [...path, i]));
  };
  walk(parsed.result, []);
  return out;
}

/** Certificates sit at ContentInfo[1][0][3][i]. */
const stopAtCertificates = (path: number[]): boolean => path.length === 4 && path[0] === 1 && path[2] === 3;

/** hex(SHA-256) of the certificate-embedded identifier: read from the .6.32 extension bytes directly. */
function merchantIdExtensionValue(certDer: Buffer): string {
  const oid = Buffer.from('06092a864886f763640620', 'hex');
  const i = certDer.indexOf(oid);
  if (i < 0) throw new Error('no .6.32');
  const after = certDer.subarray(i + oid.length);
  // OCTET STRING (0x04, len 0x42) holding UTF8String (0x0c, len 0x40)
  expect([after[0], after[1], after[2], after[3]]).toEqual([0x04, 0x42, 0x0c, 0x40]);
  return after.subarray(4, 4 + 64).toString('latin1');
}

/**
 * Decrypt a token the way Apple documents, by another route than the generator:
 * ECDH via createECDH on raw key bytes, the KDF input built in one piece.
 */
function decrypt(pd: PaymentData, merchantKey: KeyObject, merchantIdHashHex: string): { key: Buffer; plaintext: Buffer } {
  const data = Buffer.from(pd.data, 'base64');
  let key: Buffer;
  if (pd.version === 'EC_v1') {
    const eph = Buffer.from(pd.header.ephemeralPublicKey ?? '', 'base64');
    expect(eph.length).toBe(91);
    const jwk = merchantKey.export({ format: 'jwk' });
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(jwk.d ?? '', 'base64url'));
    let z = ecdh.computeSecret(eph.subarray(eph.length - 65));
    z = Buffer.concat([Buffer.alloc(32 - z.length), z]);
    key = createHash('sha256')
      .update(
        Buffer.concat([
          Buffer.from('00000001', 'hex'),
          z,
          Buffer.from('0d', 'hex'),
          Buffer.from('id-aes256-GCMApple', 'ascii'),
          Buffer.from(merchantIdHashHex, 'hex'),
        ]),
      )
      .digest();
  } else {
    key = privateDecrypt(
      { key: merchantKey, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(pd.header.wrappedKey ?? '', 'base64'),
    );
    expect(key.length).toBe(16);
  }
  const d = createDecipheriv(key.length === 32 ? 'aes-256-gcm' : 'aes-128-gcm', key, Buffer.alloc(16));
  d.setAuthTag(data.subarray(data.length - 16));
  const plaintext = Buffer.concat([d.update(data.subarray(0, data.length - 16)), d.final()]);
  return { key, plaintext };
}

function opensslCmsVerify(sig: Buffer, content: Buffer | null, extra: string[] = ['-noverify']): { ok: boolean; stderr: string } {
  const args = ['cms', '-verify', '-binary', '-inform', 'DER', '-in', tmpFile(sig, 'der'), '-out', join(tmp, 'out.bin'), ...extra];
  if (content) args.push('-content', tmpFile(content));
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: r.status === 0, stderr: r.stderr };
}

function opensslVerify(cert: string, attime: Date, caFile: string, untrusted?: string): { ok: boolean; out: string } {
  const args = ['verify', '-x509_strict', '-attime', String(Math.floor(attime.getTime() / 1000)), '-CAfile', caFile];
  if (untrusted) args.push('-untrusted', untrusted);
  args.push(cert);
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

const mint = (o: MintOptions) => mintToken(pki, { signingTime: T, ...o });

// ---------------------------------------------------------------------------

describe('(a) openssl accepts the minted CMS and the test chain', () => {
  const variants: [string, MintOptions][] = [
    ['EC_v1 default', { version: 'EC_v1' }],
    ['RSA_v1 default', { version: 'RSA_v1' }],
    [
      'EC_v1 2014 shape (NULL params, no CMSAlgorithmProtection)',
      { version: 'EC_v1', cms: { digestParamsNull: true, omitAlgorithmProtection: true } },
    ],
    ['RSA_v1 NULL digest params', { version: 'RSA_v1', cms: { digestParamsNull: true } }],
    ['EC_v1 definite-length DER', { version: 'EC_v1', cms: { indefiniteLength: false } }],
    ['EC_v1 with applicationData', { version: 'EC_v1', applicationData: createHash('sha256').update('order 1').digest('hex') }],
    ['EC_v1 zero-hash merchant', { version: 'EC_v1', merchant: 'zero' }],
    ['EC_v1 GeneralizedTime signingTime', { version: 'EC_v1', cms: { signingTimeAsGeneralizedTime: true } }],
    ['EC_v1 without signingTime', { version: 'EC_v1', signingTime: null }],
    ['EC_v1 with an extra SignerInfo', { version: 'EC_v1', cms: { extraSigners: 1 } }],
    ['EC_v1 with a CRL', { version: 'EC_v1', cms: { includeCrls: true } }],
  ];
  for (const [name, opts] of variants) {
    itOpenssl(`signature verifies (-noverify): ${name}`, () => {
      const m = mint(opts);
      const r = opensslCmsVerify(m.signatureDer, m.signedContent);
      expect(r.stderr).toContain('Verification successful');
      expect(r.ok).toBe(true);
    });
  }

  itOpenssl('signature and chain verify with the test root as CA (EC and RSA)', () => {
    for (const version of ['EC_v1', 'RSA_v1'] as const) {
      const m = mint({ version });
      const attime = String(T.getTime() / 1000);
      const r = opensslCmsVerify(m.signatureDer, m.signedContent, [
        '-CAfile',
        join(pki.dir, 'root.pem'),
        '-purpose',
        'any',
        '-attime',
        attime,
      ]);
      expect(r.ok, r.stderr).toBe(true);
    }
  });

  itOpenssl('and rejects what it should (the check is real)', () => {
    const m = mint({ version: 'EC_v1' });
    const tampered = Buffer.from(m.signedContent);
    tampered[100] = (tampered[100] ?? 0) ^ 1;
    expect(opensslCmsVerify(m.signatureDer, tampered).ok).toBe(false);
    const other = mint({ version: 'EC_v1', cms: { signedContentOverride: Buffer.from('something else') } });
    expect(opensslCmsVerify(other.signatureDer, other.signedContent).ok).toBe(false);
    expect(opensslCmsVerify(other.signatureDer, Buffer.from('something else')).ok).toBe(true);
    const md = mint({ version: 'EC_v1', cms: { messageDigestOverride: Buffer.alloc(32) } });
    expect(opensslCmsVerify(md.signatureDer, md.signedContent).ok).toBe(false);
    const sig = mint({ version: 'RSA_v1', cms: { signatureOverride: Buffer.alloc(256, 1) } });
    expect(opensslCmsVerify(sig.signatureDer, sig.signedContent).ok).toBe(false);
    // Signed by the EC leaf's key but carrying the RSA leaf: the signer certificate does not match.
    const wrongKey = mint({ version: 'EC_v1', signer: { certDer: pki.leafEc.certDer, key: pki.merchants.ec.key } });
    expect(opensslCmsVerify(wrongKey.signatureDer, wrongKey.signedContent).ok).toBe(false);
  });

  itOpenssl('attachContent yields a valid attached-content CMS over the attached bytes', () => {
    const forged = Buffer.from('attached content');
    const m = mint({ version: 'EC_v1', cms: { attachContent: forged } });
    const r = opensslCmsVerify(m.signatureDer, null);
    expect(r.ok, r.stderr).toBe(true);
    expect(readFileSync(join(tmp, 'out.bin'))).toEqual(forged);
  });

  itOpenssl('test chain verifies with openssl verify inside the validity windows only', () => {
    const root = join(pki.dir, 'root.pem');
    const inter = join(pki.dir, 'intermediate.pem');
    for (const leaf of ['leaf-ec.pem', 'leaf-rsa.pem']) {
      expect(opensslVerify(join(pki.dir, leaf), T, root, inter).ok).toBe(true);
      expect(opensslVerify(join(pki.dir, leaf), new Date('2023-12-31T23:59:59Z'), root, inter).ok).toBe(false);
      expect(opensslVerify(join(pki.dir, leaf), new Date('2034-01-01T00:00:01Z'), root, inter).ok).toBe(false);
    }
    expect(opensslVerify(inter, new Date('2039-12-31T00:00:00Z'), root).ok).toBe(true);
    for (const m of Object.values(pki.merchants)) {
      expect(opensslVerify(m.certPath, T, root, join(pki.dir, 'wwdr.pem')).ok).toBe(true);
    }
    // Apple's names, foreign key: Apple's real root does not accept our intermediate.
    const appleRoot = new URL('apple-certs/AppleRootCA-G3.pem', ROOT).pathname;
    expect(opensslVerify(inter, T, appleRoot).ok).toBe(false);
  });

  itOpenssl('p12 files: modern algorithms, passphrase and no passphrase', () => {
    for (const m of Object.values(pki.merchants)) {
      const entry = pki.manifest.merchants[m.name];
      expect(entry.p12 && entry.p12NoPassphrase).toBeTruthy();
      const info = spawnSync(
        'openssl',
        ['pkcs12', '-info', '-noout', '-in', join(pki.dir, entry.p12 ?? ''), '-passin', `pass:${pki.p12Passphrase}`],
        { encoding: 'utf8' },
      );
      expect(info.status).toBe(0);
      expect(info.stderr).toContain('MAC: sha256');
      expect(info.stderr).toContain('PBES2, PBKDF2, AES-256-CBC');
      const wrong = spawnSync('openssl', ['pkcs12', '-info', '-noout', '-in', join(pki.dir, entry.p12 ?? ''), '-passin', 'pass:nope']);
      expect(wrong.status).not.toBe(0);
      const nopass = spawnSync(
        'openssl',
        ['pkcs12', '-info', '-noout', '-nodes', '-in', join(pki.dir, entry.p12NoPassphrase ?? ''), '-passin', 'pass:'],
        { encoding: 'utf8' },
      );
      expect(nopass.status).toBe(0);
    }
  });
});

describe('(b) certificates: node X509Certificate', () => {
  const appleRoot = new X509Certificate(readFileSync(new URL('apple-certs/AppleRootCA-G3.pem', ROOT)));
  const appleInter = new X509Certificate(readFileSync(new URL('apple-certs/AppleAAICAG3.pem', ROOT)));
  const [realEcLeaf] = cmsCertificates(Buffer.from(realToken('basistheory-ec-2023-03').signature, 'base64'));
  const [realRsaLeaf] = cmsCertificates(Buffer.from(realToken('basistheory-rsa-2024').signature, 'base64'));
  const LEAF_MARKER = Buffer.from('06092a864886f76364061d04020500', 'hex'); // OID .6.29, extnValue NULL
  const INTER_MARKER = Buffer.from('060a2a864886f7636406020e04020500', 'hex'); // OID .6.2.14, extnValue NULL

  it('real certificates carry the marker bytes this test looks for', () => {
    expect(Buffer.from(appleInter.raw).includes(INTER_MARKER)).toBe(true);
    expect(realEcLeaf?.includes(LEAF_MARKER)).toBe(true);
    expect(realRsaLeaf?.includes(LEAF_MARKER)).toBe(true);
  });

  it("names equal Apple's", () => {
    expect(pki.root.x509.subject).toBe(appleRoot.subject);
    expect(pki.root.x509.issuer).toBe(appleRoot.issuer);
    expect(pki.intermediate.x509.subject).toBe(appleInter.subject);
    expect(pki.intermediate.x509.issuer).toBe(appleInter.issuer);
    expect(pki.leafEc.x509.subject).toBe(new X509Certificate(realEcLeaf ?? Buffer.alloc(0)).subject);
    expect(pki.leafRsa.x509.subject).toBe(new X509Certificate(realRsaLeaf ?? Buffer.alloc(0)).subject);
    expect(pki.leafEc.x509.issuer).toBe(appleInter.subject);
  });

  it('key types: root P-384, intermediate and EC leaf P-256, RSA leaf RSA-2048', () => {
    expect(pki.root.x509.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    expect(pki.intermediate.x509.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(pki.leafEc.x509.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(pki.leafRsa.x509.publicKey.asymmetricKeyType).toBe('rsa');
    expect(pki.leafRsa.x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(pki.merchants.ec.x509.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(pki.merchants.rsa.x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('signatures chain: leaf <- intermediate <- root, merchants <- wwdr <- root', () => {
    expect(pki.root.x509.verify(pki.root.x509.publicKey)).toBe(true);
    expect(pki.intermediate.x509.verify(pki.root.x509.publicKey)).toBe(true);
    expect(pki.leafEc.x509.verify(pki.intermediate.x509.publicKey)).toBe(true);
    expect(pki.leafRsa.x509.verify(pki.intermediate.x509.publicKey)).toBe(true);
    expect(pki.wwdr.x509.verify(pki.root.x509.publicKey)).toBe(true);
    for (const m of Object.values(pki.merchants)) expect(m.x509.verify(pki.wwdr.x509.publicKey)).toBe(true);
    // and not by the wrong key, nor by Apple's real root
    expect(pki.leafEc.x509.verify(pki.root.x509.publicKey)).toBe(false);
    expect(pki.intermediate.x509.verify(appleRoot.publicKey)).toBe(false);
    expect(pki.leafEc.x509.checkIssued(pki.intermediate.x509)).toBe(true);
  });

  it('signature algorithms as Apple: root SHA-384, intermediate and leaves ecdsa-with-SHA256', () => {
    const sigAlgOf = (der: Buffer): string => {
      // Certificate.signatureAlgorithm OID: the AlgorithmIdentifier right after the TBSCertificate.
      const cert = asn1js.fromBER(new Uint8Array(der).buffer).result as asn1js.Sequence;
      const alg = cert.valueBlock.value[1] as asn1js.Sequence;
      return (alg.valueBlock.value[0] as asn1js.ObjectIdentifier).valueBlock.toString();
    };
    expect(sigAlgOf(pki.root.certDer)).toBe(sigAlgOf(Buffer.from(appleRoot.raw)));
    expect(sigAlgOf(pki.root.certDer)).toBe('1.2.840.10045.4.3.3');
    expect(sigAlgOf(pki.intermediate.certDer)).toBe(sigAlgOf(Buffer.from(appleInter.raw)));
    expect(sigAlgOf(pki.leafEc.certDer)).toBe('1.2.840.10045.4.3.2');
    expect(sigAlgOf(pki.leafRsa.certDer)).toBe('1.2.840.10045.4.3.2');
  });

  it('CA flags and marker OIDs', () => {
    expect(pki.root.x509.ca).toBe(true);
    expect(pki.intermediate.x509.ca).toBe(true);
    expect(pki.leafEc.x509.ca).toBe(false);
    expect(pki.merchants.ec.x509.ca).toBe(false);
    expect(pki.leafEc.certDer.includes(LEAF_MARKER)).toBe(true);
    expect(pki.leafRsa.certDer.includes(LEAF_MARKER)).toBe(true);
    expect(pki.intermediate.certDer.includes(INTER_MARKER)).toBe(true);
    expect(pki.intermediate.certDer.includes(LEAF_MARKER)).toBe(false);
    expect(pki.leafEc.certDer.includes(INTER_MARKER)).toBe(false);
    expect(pki.root.certDer.includes(LEAF_MARKER) || pki.root.certDer.includes(INTER_MARKER)).toBe(false);
  });

  it('merchant certificates: UID and .6.32 = uppercase hex SHA-256(identifier)', () => {
    for (const m of Object.values(pki.merchants)) {
      const hash = createHash('sha256').update(m.identifier).digest('hex').toUpperCase();
      expect(merchantIdExtensionValue(m.certDer)).toBe(hash);
      expect(m.x509.subject.split('\n')).toContain(`UID=${m.identifier}`);
      expect(pki.manifest.merchants[m.name].identifierHashHex).toBe(hash);
    }
    expect(merchantIdExtensionValue(pki.merchants.zero.certDer).startsWith('00')).toBe(true);
    // the same reader on a real merchant certificate
    const real = new X509Certificate(readFileSync(new URL('merchant_cert.pem', realDir('basistheory-ec-2023-03'))));
    expect(merchantIdExtensionValue(Buffer.from(real.raw))).toBe(
      createHash('sha256').update('merchant.basistheory.sales').digest('hex').toUpperCase(),
    );
  });

  it('validity windows as the manifest says', () => {
    const at = (s: string) => new Date(s).getTime();
    expect(at(pki.root.x509.validFrom)).toBe(Date.UTC(2020, 0, 1));
    expect(at(pki.root.x509.validTo)).toBe(Date.UTC(2045, 0, 1));
    expect(at(pki.intermediate.x509.validTo)).toBe(Date.UTC(2040, 0, 1));
    for (const e of [pki.leafEc, pki.leafRsa, ...Object.values(pki.merchants)]) {
      expect(at(e.x509.validFrom)).toBe(Date.UTC(2024, 0, 1));
      expect(at(e.x509.validTo)).toBe(Date.UTC(2034, 0, 1));
    }
    for (const [name, a] of Object.entries(pki.manifest.authorities)) {
      const e = pki[name as 'root'];
      expect(at(e.x509.validFrom)).toBe(at(a.notBefore));
      expect(at(e.x509.validTo)).toBe(at(a.notAfter));
    }
  });

  it('keys and p12 files match the certificates (node tls)', () => {
    for (const m of Object.values(pki.merchants)) {
      expect(m.x509.checkPrivateKey(m.key)).toBe(true);
      expect(() => createSecureContext({ pfx: m.p12 ?? Buffer.alloc(0), passphrase: pki.p12Passphrase })).not.toThrow();
      expect(() => createSecureContext({ pfx: m.p12NoPassphrase ?? Buffer.alloc(0) })).not.toThrow();
      expect(() => createSecureContext({ pfx: m.p12 ?? Buffer.alloc(0), passphrase: 'wrong' })).toThrow();
    }
    expect(pki.leafEc.x509.checkPrivateKey(pki.leafEc.key)).toBe(true);
    expect(pki.leafRsa.x509.checkPrivateKey(pki.leafRsa.key)).toBe(true);
  });
});

describe('(c) encryption round-trips through an independent decryptor', () => {
  it('the decryptor reproduces the KDF known answer and decrypts real tokens', () => {
    // Spec 4: Z and Party V of the gala token give K.
    const k = createHash('sha256')
      .update(
        Buffer.concat([
          Buffer.from('00000001', 'hex'),
          Buffer.from('yCUzDuNYTnUnANZEdxC7+DvPmqNslB2YWYn68SBsJHU=', 'base64'),
          Buffer.from('0d', 'hex'),
          Buffer.from('id-aes256-GCMApple'),
          Buffer.from('358DA5890B9555C0A9EFB84B5CD6FF04BFDCD5AABF5DC14B9872D8DF51EAF439', 'hex'),
        ]),
      )
      .digest('base64');
    expect(k).toBe('3GTXJ4RuP/IhS23hsdOw2J2ecAZmC0RasbPIFdC3nQM=');
    for (const set of ['gala-seatgeek-2014', 'basistheory-ec-2023-03', 'basistheory-rsa-2024']) {
      const dir = realDir(set);
      const meta = JSON.parse(readFileSync(new URL('meta.json', dir), 'utf8')) as { merchantIdHashHex: string };
      const key = createPrivateKey(readFileSync(new URL('merchant_key.TEST-KEY.pem', dir)));
      const { plaintext } = decrypt(realToken(set), key, meta.merchantIdHashHex);
      expect(JSON.parse(plaintext.toString('utf8'))).toEqual(JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8')));
    }
  });

  const cases: [string, MintOptions, 'ec' | 'ecRotated' | 'rsa' | 'zero'][] = [
    ['EC_v1 to merchant ec', { version: 'EC_v1' }, 'ec'],
    ['EC_v1 to the rotated key', { version: 'EC_v1', merchant: 'ecRotated' }, 'ecRotated'],
    ['EC_v1 to the zero-hash merchant', { version: 'EC_v1', merchant: 'zero' }, 'zero'],
    ['RSA_v1 to merchant rsa', { version: 'RSA_v1' }, 'rsa'],
  ];
  for (const [name, opts, merchantName] of cases) {
    it(name, () => {
      const merchant = pki.merchants[merchantName];
      for (let i = 0; i < 20; i++) {
        const m = mint(opts);
        const idHash = createHash('sha256').update(merchant.identifier).digest('hex');
        const { key, plaintext } = decrypt(m.paymentData, merchant.key, idHash);
        expect(key).toEqual(m.expected.symmetricKey);
        expect(JSON.parse(plaintext.toString('utf8'))).toEqual(m.expected.payment);
      }
    });
  }

  it('raw Buffer payments and header encodings', () => {
    const raw = Buffer.from([0, 1, 2, 0xff, 0xfe]);
    const m = mint({ version: 'EC_v1', payment: raw, applicationData: 'ab'.repeat(32) });
    expect(decrypt(m.paymentData, pki.merchants.ec.key, pki.merchants.ec.identifierHash.toString('hex')).plaintext).toEqual(raw);
    const h = m.paymentData.header;
    expect(Object.keys(h).sort()).toEqual(['applicationData', 'ephemeralPublicKey', 'publicKeyHash', 'transactionId']);
    expect(h.transactionId).toMatch(/^[0-9a-f]{64}$/);
    expect(h.publicKeyHash).toBe(
      createHash('sha256')
        .update(pki.merchants.ec.x509.publicKey.export({ type: 'spki', format: 'der' }))
        .digest('base64'),
    );
    expect(h.publicKeyHash).toBe(pki.manifest.merchants.ec.publicKeyHash);
    const eph = createPublicKey({ key: Buffer.from(h.ephemeralPublicKey ?? '', 'base64'), format: 'der', type: 'spki' });
    expect(eph.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(Buffer.from(m.paymentData.data, 'base64').length).toBe(raw.length + 16);
    expect(m.signedContent).toEqual(
      Buffer.concat([
        Buffer.from(h.ephemeralPublicKey ?? '', 'base64'),
        Buffer.from(m.paymentData.data, 'base64'),
        Buffer.from(h.transactionId, 'hex'),
        Buffer.from(h.applicationData ?? '', 'hex'),
      ]),
    );
    const r = mint({ version: 'RSA_v1' });
    expect(Object.keys(r.paymentData.header).sort()).toEqual(['publicKeyHash', 'transactionId', 'wrappedKey']);
    expect(Buffer.from(r.paymentData.header.wrappedKey ?? '', 'base64').length).toBe(256);
    expect(r.signedContent.subarray(0, 256)).toEqual(Buffer.from(r.paymentData.header.wrappedKey ?? '', 'base64'));
  });

  it('is reproducible with a fixed ephemeral key, transactionId and signing time', () => {
    const ephemeralPrivateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const o: MintOptions = { version: 'EC_v1', ephemeralPrivateKey, transactionId: 'aa'.repeat(32) };
    const a = mint(o);
    const b = mint(o);
    expect(a.paymentData.data).toBe(b.paymentData.data);
    expect(a.paymentData.header).toEqual(b.paymentData.header);
    expect(a.signedContent).toEqual(b.signedContent);
    expect(a.expected.signingTime).toEqual(T);
  });

  it('mints fast enough to call hundreds of times', () => {
    for (const version of ['EC_v1', 'RSA_v1'] as const) {
      const t0 = performance.now();
      for (let i = 0; i < 200; i++) mint({ version });
      const perMint = (performance.now() - t0) / 200;
      console.log(`${version}: ${perMint.toFixed(2)} ms per mint`);
      expect(perMint).toBeLessThan(20);
    }
  });
});

describe('(e) CMS layout equals real tokens (tags and OIDs, not values)', () => {
  const realCms = (set: string) => Buffer.from(realToken(set).signature, 'base64');
  const pairs: [string, string, MintOptions][] = [
    ['basistheory-ec-2023-03', 'EC_v1 default', { version: 'EC_v1' }],
    ['basistheory-rsa-2024', 'RSA_v1 default', { version: 'RSA_v1' }],
    ['gala-seatgeek-2014', 'EC_v1 2014 shape', { version: 'EC_v1', cms: { digestParamsNull: true, omitAlgorithmProtection: true } }],
  ];
  for (const [set, name, opts] of pairs) {
    it(`${name} matches ${set}`, () => {
      const real = skeleton(realCms(set), stopAtCertificates);
      const ours = skeleton(mint(opts).signatureDer, stopAtCertificates);
      expect(ours).toEqual(real);
      expect(real.join('\n')).toContain(' inf');
    });
  }

  it('the knobs change the layout (the comparison can fail)', () => {
    const real = skeleton(realCms('basistheory-ec-2023-03'), stopAtCertificates);
    expect(skeleton(mint({ version: 'EC_v1', cms: { indefiniteLength: false } }).signatureDer, stopAtCertificates)).not.toEqual(real);
    expect(skeleton(mint({ version: 'EC_v1', cms: { digestParamsNull: true } }).signatureDer, stopAtCertificates)).not.toEqual(real);
  });

  it("the embedded certificates have the layout of Apple's", () => {
    const ec = cmsCertificates(realCms('basistheory-ec-2023-03'));
    const rsa = cmsCertificates(realCms('basistheory-rsa-2024'));
    const m = cmsCertificates(mint({ version: 'EC_v1' }).signatureDer);
    const r = cmsCertificates(mint({ version: 'RSA_v1' }).signatureDer);
    expect(m).toEqual([pki.leafEc.certDer, pki.intermediate.certDer]);
    expect(r).toEqual([pki.leafRsa.certDer, pki.intermediate.certDer]);
    expect(skeleton(pki.leafEc.certDer)).toEqual(skeleton(ec[0] ?? Buffer.alloc(0)));
    expect(skeleton(pki.intermediate.certDer)).toEqual(skeleton(ec[1] ?? Buffer.alloc(0)));
    expect(skeleton(pki.leafRsa.certDer)).toEqual(skeleton(rsa[0] ?? Buffer.alloc(0)));
    const appleRoot = new X509Certificate(readFileSync(new URL('apple-certs/AppleRootCA-G3.pem', ROOT)));
    expect(skeleton(pki.root.certDer)).toEqual(skeleton(Buffer.from(appleRoot.raw)));
    for (const [ours, set] of [
      [pki.merchants.ec, 'basistheory-ec-2023-03'],
      [pki.merchants.rsa, 'basistheory-rsa-2024'],
    ] as const) {
      const real = new X509Certificate(readFileSync(new URL('merchant_cert.pem', realDir(set))));
      expect(skeleton(ours.certDer)).toEqual(skeleton(Buffer.from(real.raw)));
    }
  });

  it('signed attributes are in DER order with the expected OIDs', () => {
    const lines = skeleton(mint({ version: 'EC_v1' }).signatureDer, stopAtCertificates).join('\n');
    const order = [OID.contentType, OID.signingTime, OID.cmsAlgorithmProtection, OID.messageDigest].map((o) => lines.indexOf(` ${o}`));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });
});

describe('(f) every cms knob has its effect', () => {
  const sk = (o: MintOptions) => skeleton(mint(o).signatureDer, stopAtCertificates).join('\n') + '\n';
  const verifies = (o: MintOptions, extra?: string[]) => {
    const m = mint(o);
    return opensslCmsVerify(m.signatureDer, m.signedContent, extra).ok;
  };
  /** SignedData fields as asn1js elements. */
  const signedDataFields = (cms: Buffer): asn1js.AsnType[] => {
    const ci = asn1js.fromBER(new Uint8Array(cms).buffer).result as asn1js.Sequence;
    const ex = ci.valueBlock.value[1] as asn1js.Constructed;
    return (ex.valueBlock.value[0] as asn1js.Sequence).valueBlock.value;
  };
  const intValue = (el: asn1js.AsnType | undefined): number => (el as asn1js.Integer).valueBlock.valueDec;

  it('attribute presence knobs', () => {
    const base = sk({ version: 'EC_v1' });
    for (const o of [OID.contentType, OID.signingTime, OID.cmsAlgorithmProtection, OID.messageDigest]) expect(base).toContain(` ${o}\n`);
    expect(sk({ version: 'EC_v1', cms: { omitContentTypeAttr: true } })).not.toContain(` ${OID.contentType}\n`);
    expect(sk({ version: 'EC_v1', cms: { omitMessageDigest: true } })).not.toContain(` ${OID.messageDigest}\n`);
    expect(sk({ version: 'EC_v1', cms: { omitAlgorithmProtection: true } })).not.toContain(` ${OID.cmsAlgorithmProtection}\n`);
    expect(sk({ version: 'EC_v1', signingTime: null })).not.toContain(` ${OID.signingTime}\n`);
    expect(sk({ version: 'EC_v1', cms: { signingTimeAsGeneralizedTime: true } })).toMatch(/U24p/);
    expect(base).toMatch(/U23p/);
    const ct = sk({ version: 'EC_v1', cms: { contentTypeOid: OID.signedData } });
    expect(ct).toMatch(
      new RegExp(` ${OID.contentType.replace(/\./g, '\\.')}\\n\\s+U17c\\n\\s+U6p ${OID.signedData.replace(/\./g, '\\.')}`),
    );
    const extra = sk({
      version: 'EC_v1',
      cms: { extraSignedAttributes: [der.sequence([der.oid(OID.signingTime), der.set([der.utcTime(T)])])] },
    });
    expect(extra.split(` ${OID.signingTime}\n`).length).toBe(3);
    expect(sk({ version: 'EC_v1', cms: { omitSignedAttributes: true } })).not.toContain(` ${OID.messageDigest}\n`);
  });

  itOpenssl('algorithm knobs produce CMS that openssl still verifies (so only the identifiers differ from Apple)', () => {
    expect(verifies({ version: 'EC_v1', cms: { signatureAlgorithmOid: OID.ecdsaWithSHA384 } })).toBe(true);
    expect(verifies({ version: 'EC_v1', cms: { digestAlgorithmOid: OID.sha384 } })).toBe(true);
    expect(
      verifies({ version: 'RSA_v1', cms: { digestAlgorithmOid: OID.sha512, signatureAlgorithmOid: OID.sha512WithRSAEncryption } }),
    ).toBe(true);
    expect(verifies({ version: 'EC_v1', cms: { omitSignedAttributes: true } })).toBe(true);
    expect(verifies({ version: 'EC_v1', cms: { omitAlgorithmProtection: true } })).toBe(true);
    // with no certificates the signer certificate must come from outside
    expect(verifies({ version: 'EC_v1', cms: { noCertificates: true } })).toBe(false);
    expect(verifies({ version: 'EC_v1', cms: { noCertificates: true } }, ['-noverify', '-certfile', pki.leafEc.certPath])).toBe(true);
    // the identifier lands in SignerInfo.signatureAlgorithm and in CMSAlgorithmProtection
    expect(sk({ version: 'EC_v1', cms: { signatureAlgorithmOid: OID.ecdsaWithSHA384 } }).split(` ${OID.ecdsaWithSHA384}\n`).length).toBe(3);
  });

  it('structure knobs', () => {
    const m = mint({
      version: 'EC_v1',
      cms: { signedDataVersion: 3, signerInfoVersion: 3, extraSigners: 2, eContentTypeOid: OID.signedData, includeCrls: true },
    });
    const f = signedDataFields(m.signatureDer);
    expect(intValue(f[0])).toBe(3);
    const encap = f[2] as asn1js.Sequence;
    expect((encap.valueBlock.value[0] as asn1js.ObjectIdentifier).valueBlock.toString()).toBe(OID.signedData);
    expect(f[4]?.idBlock.tagClass).toBe(3);
    expect(f[4]?.idBlock.tagNumber).toBe(1);
    const signerInfos = (f[5] as asn1js.Set).valueBlock.value as asn1js.Sequence[];
    expect(signerInfos.length).toBe(3);
    expect(intValue(signerInfos[0]?.valueBlock.value[0])).toBe(3);
    const outer = skeleton(mint({ version: 'EC_v1', cms: { outerContentTypeOid: OID.data } }).signatureDer, stopAtCertificates);
    expect(outer[1]).toContain(OID.data);
    const none = signedDataFields(mint({ version: 'EC_v1', cms: { noCertificates: true } }).signatureDer);
    expect(none.length).toBe(4);
    expect(sk({ version: 'EC_v1', cms: { indefiniteLength: false } })).not.toContain(' inf');
    const attached = signedDataFields(
      mint({ version: 'EC_v1', cms: { attachContent: Buffer.from('x') } }).signatureDer,
    )[2] as asn1js.Sequence;
    expect(attached.valueBlock.value.length).toBe(2);
    const custom = mint({ version: 'EC_v1', certificates: [pki.intermediate.certDer, pki.leafEc.certDer, pki.root.certDer] });
    expect(cmsCertificates(custom.signatureDer)).toEqual([pki.intermediate.certDer, pki.leafEc.certDer, pki.root.certDer]);
  });

  itOpenssl('header overrides are signed', () => {
    const explicitParams = Buffer.alloc(91, 7);
    const a = mint({ version: 'EC_v1', ephemeralPublicKeyOverride: explicitParams, dataOverride: Buffer.alloc(40, 1) });
    expect(a.paymentData.header.ephemeralPublicKey).toBe(explicitParams.toString('base64'));
    expect(a.paymentData.data).toBe(Buffer.alloc(40, 1).toString('base64'));
    expect(opensslCmsVerify(a.signatureDer, a.signedContent).ok).toBe(true);
    const b = mint({
      version: 'RSA_v1',
      wrappedKeyOverride: Buffer.alloc(255, 2),
      publicKeyHashOverride: Buffer.alloc(32),
      versionOverride: 'RSA_v2',
    });
    expect(b.paymentData.header.wrappedKey).toBe(Buffer.alloc(255, 2).toString('base64'));
    expect(b.paymentData.header.publicKeyHash).toBe(Buffer.alloc(32).toString('base64'));
    expect(b.paymentData.version).toBe('RSA_v2');
    expect(b.signedContent.subarray(0, 255)).toEqual(Buffer.alloc(255, 2));
    expect(opensslCmsVerify(b.signatureDer, b.signedContent).ok).toBe(true);
  });
});
