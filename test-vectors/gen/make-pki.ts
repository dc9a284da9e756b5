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
import { createPrivateKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { issuePki, merchantFileName, writePkiDir } from '../../lib/testing/pki.js';
import {
  AUTHORITY_PLAN,
  MERCHANT_PLAN,
  P12_PASSPHRASE,
  PKI_DIR,
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

function main(): void {
  mkdirSync(OUT_DIR, { recursive: true });
  const keys = {} as Record<AuthorityName, KeyObject>;
  for (const a of AUTHORITY_PLAN) keys[a.name] = loadOrCreateKey(`${a.file}.key.pem`, a.key);
  const merchantKeys = MERCHANT_PLAN.map((m) => ({
    name: m.name,
    identifier: m.identifier,
    key: loadOrCreateKey(`${m.file}.key.pem`, m.key),
  }));

  // Apple's names, the per-role validity and stable serials: the same issuing code as the test kit's
  // createTestPki(), which differs only in its "TEST ONLY" names, fresh keys and random serials.
  const pki = issuePki({ keys, merchants: merchantKeys });
  const roles: Record<string, string> = {};
  for (const a of AUTHORITY_PLAN) roles[a.name] = a.role;
  for (const m of MERCHANT_PLAN) {
    if (merchantFileName(m.name) !== m.file) throw new Error(`merchant ${m.name}: file ${m.file} is not ${merchantFileName(m.name)}`);
    roles[`merchant:${m.name}`] = m.role;
  }
  const written = writePkiDir(pki, OUT_DIR, {
    description: 'Test PKI for applepay-verify: Apple-shaped certificates on test keys. Not issued by Apple; never trust in production.',
    generator: 'test-vectors/gen/make-pki.ts (npm run pki)',
    roles,
  });

  const openssl = haveOpenssl();
  if (!openssl) console.warn('openssl CLI not found: skipping the PKCS#12 files');
  const merchants = {} as Record<MerchantName, MerchantEntry>;
  for (const m of MERCHANT_PLAN) {
    const entry = written.merchants[m.name];
    if (!entry) throw new Error(`no manifest entry for ${m.name}`);
    let p12: string | null = null;
    let p12NoPassphrase: string | null = null;
    for (const f of [`${m.file}.p12`, `${m.file}.nopass.p12`]) rmSync(join(OUT_DIR, f), { force: true });
    if (openssl) {
      p12 = `${m.file}.p12`;
      p12NoPassphrase = `${m.file}.nopass.p12`;
      makeP12(entry.cert, entry.key, p12, m.identifier, P12_PASSPHRASE);
      makeP12(entry.cert, entry.key, p12NoPassphrase, m.identifier, null);
    }
    merchants[m.name] = { ...entry, issuer: 'wwdr', p12, p12NoPassphrase };
  }

  const manifest: Manifest = {
    description: written.description,
    generator: written.generator,
    generatedAt: written.generatedAt,
    p12Passphrase: P12_PASSPHRASE,
    authorities: written.authorities,
    merchants,
  };
  writeFileSync(join(OUT_DIR, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  console.log(`wrote ${OUT_DIR}`);
}

main();
