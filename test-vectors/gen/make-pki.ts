/**
 * Regenerate the committed test PKI in test-vectors/pki/.
 *
 *   npm run pki                 re-issue every certificate, keep existing keys
 *   npm run pki -- --new-keys   also replace every key
 *   npm run pki -- --out DIR    write elsewhere (e.g. to try a change without touching the committed set)
 *
 * Keys are kept by default so that re-issuing (e.g. after changing an extension)
 * does not invalidate anything a test or a fixture pinned to a key.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, KeyObject, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  appleIntermediateSpec,
  appleLeafSpec,
  appleRootSpec,
  issueCertificate,
  merchantIdHashHex,
  merchantSpec,
  spkiDer,
  toPem,
  wwdrSpec,
  type CertificateSpec,
} from './pki.js';
import {
  AUTHORITY_PLAN,
  MERCHANT_PLAN,
  P12_PASSPHRASE,
  PKI_DIR,
  type AuthorityEntry,
  type AuthorityName,
  type KeySpec,
  type Manifest,
  type MerchantEntry,
  type MerchantName,
} from './layout.js';

const newKeys = process.argv.includes('--new-keys');
const outIndex = process.argv.indexOf('--out');
const OUT_DIR = outIndex >= 0 ? resolve(process.argv[outIndex + 1] ?? '.') : PKI_DIR;

function describeKey(k: KeySpec): string {
  return k.type === 'EC' ? `EC ${k.curve}` : `RSA-${k.bits}`;
}

function keyMatches(key: KeyObject, spec: KeySpec): boolean {
  const d = key.asymmetricKeyDetails;
  if (spec.type === 'EC') {
    const curve = spec.curve === 'P-256' ? 'prime256v1' : 'secp384r1';
    return key.asymmetricKeyType === 'ec' && d?.namedCurve === curve;
  }
  return key.asymmetricKeyType === 'rsa' && d?.modulusLength === spec.bits;
}

function loadOrCreateKey(file: string, spec: KeySpec): KeyObject {
  const path = join(OUT_DIR, file);
  if (!newKeys && existsSync(path)) {
    const key = createPrivateKey(readFileSync(path));
    if (keyMatches(key, spec)) return key;
    console.warn(`${file}: not a ${describeKey(spec)} key, generating a new one`);
  }
  const { privateKey } =
    spec.type === 'EC'
      ? generateKeyPairSync('ec', { namedCurve: spec.curve })
      : generateKeyPairSync('rsa', { modulusLength: spec.bits, publicExponent: 0x10001 });
  writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o644 });
  console.log(`${file}: new ${describeKey(spec)} key`);
  return privateKey;
}

function haveOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

function makeP12(certFile: string, keyFile: string, out: string, friendlyName: string, passphrase: string | null): void {
  const args = ['pkcs12', '-export', '-in', certFile, '-inkey', keyFile, '-out', out, '-name', friendlyName, '-macalg', 'sha256'];
  if (passphrase === null) {
    // No passphrase: bags unencrypted; the (mandatory-by-default) MAC is keyed with the empty password.
    args.push('-passout', 'pass:', '-keypbe', 'NONE', '-certpbe', 'NONE');
  } else {
    args.push('-passout', `pass:${passphrase}`, '-keypbe', 'AES-256-CBC', '-certpbe', 'AES-256-CBC', '-iter', '2048');
  }
  execFileSync('openssl', args, { cwd: OUT_DIR, stdio: 'pipe' });
}

function describe(certDer: Buffer, spec: CertificateSpec, role: string, keyFile: string, keyType: string, certFile: string) {
  const x = new X509Certificate(certDer);
  return {
    role,
    cert: certFile,
    key: keyFile,
    keyType,
    subject: x.subject.replace(/\n/g, ', '),
    serialHex: x.serialNumber.toUpperCase(),
    notBefore: spec.notBefore.toISOString(),
    notAfter: spec.notAfter.toISOString(),
    sha256: createHash('sha256').update(certDer).digest('hex').toUpperCase(),
  };
}

function main(): void {
  mkdirSync(OUT_DIR, { recursive: true });
  const keys = new Map<string, KeyObject>();
  for (const a of AUTHORITY_PLAN) keys.set(a.name, loadOrCreateKey(`${a.file}.key.pem`, a.key));
  for (const m of MERCHANT_PLAN) keys.set(`merchant:${m.name}`, loadOrCreateKey(`${m.file}.key.pem`, m.key));
  const key = (n: string): KeyObject => {
    const k = keys.get(n);
    if (!k) throw new Error(`no key ${n}`);
    return k;
  };

  const specs: Record<AuthorityName, CertificateSpec> = {
    root: appleRootSpec({ key: key('root') }),
    intermediate: appleIntermediateSpec({ key: key('intermediate'), issuerKey: key('root') }),
    leafEc: appleLeafSpec({ kind: 'EC', key: key('leafEc'), issuerKey: key('intermediate') }),
    leafRsa: appleLeafSpec({ kind: 'RSA', key: key('leafRsa'), issuerKey: key('intermediate') }),
    wwdr: wwdrSpec({ key: key('wwdr'), issuerKey: key('root') }),
  };
  const issuers: Record<AuthorityName, AuthorityName> = {
    root: 'root',
    intermediate: 'root',
    leafEc: 'intermediate',
    leafRsa: 'intermediate',
    wwdr: 'root',
  };

  const authorities = {} as Record<AuthorityName, AuthorityEntry>;
  for (const a of AUTHORITY_PLAN) {
    const spec = specs[a.name];
    const certDer = issueCertificate(spec);
    const certFile = `${a.file}.pem`;
    writeFileSync(join(OUT_DIR, certFile), toPem(certDer));
    authorities[a.name] = {
      ...describe(certDer, spec, a.role, `${a.file}.key.pem`, describeKey(a.key), certFile),
      issuer: issuers[a.name],
    };
  }

  const openssl = haveOpenssl();
  if (!openssl) console.warn('openssl CLI not found: skipping the PKCS#12 files');
  const merchants = {} as Record<MerchantName, MerchantEntry>;
  for (const m of MERCHANT_PLAN) {
    const mkey = key(`merchant:${m.name}`);
    const spec = merchantSpec({ identifier: m.identifier, key: mkey, issuerKey: key('wwdr') });
    const certDer = issueCertificate(spec);
    const certFile = `${m.file}.pem`;
    const keyFile = `${m.file}.key.pem`;
    writeFileSync(join(OUT_DIR, certFile), toPem(certDer));
    let p12: string | null = null;
    let p12NoPassphrase: string | null = null;
    for (const f of [`${m.file}.p12`, `${m.file}.nopass.p12`]) rmSync(join(OUT_DIR, f), { force: true });
    if (openssl) {
      p12 = `${m.file}.p12`;
      p12NoPassphrase = `${m.file}.nopass.p12`;
      makeP12(certFile, keyFile, p12, m.identifier, P12_PASSPHRASE);
      makeP12(certFile, keyFile, p12NoPassphrase, m.identifier, null);
    }
    merchants[m.name] = {
      ...describe(certDer, spec, m.role, keyFile, describeKey(m.key), certFile),
      issuer: 'wwdr',
      identifier: m.identifier,
      identifierHashHex: merchantIdHashHex(m.identifier),
      publicKeyHash: createHash('sha256').update(spkiDer(mkey)).digest('base64'),
      p12,
      p12NoPassphrase,
    };
  }

  const manifest: Manifest = {
    description:
      'Test PKI for applepay-verify: Apple-shaped certificates on test keys. Not issued by Apple; never trust in production.',
    generator: 'test-vectors/gen/make-pki.ts (npm run pki)',
    generatedAt: new Date().toISOString(),
    p12Passphrase: P12_PASSPHRASE,
    authorities,
    merchants,
  };
  writeFileSync(join(OUT_DIR, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  console.log(`wrote ${OUT_DIR}`);
}

main();
