/**
 * Minting lives in the test kit (lib/testing/mint.ts), shared with applepay-verify/testing: this module
 * keeps the generator's import path and reads the committed corpus PKI (test-vectors/pki/), whose files
 * the vectors name.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  loadPkiDir,
  type PkiEntity as KitEntity,
  type TestMerchant as KitMerchant,
  type TestPki as KitPki,
} from '../../lib/testing/pki.js';
import { PKI_DIR, type Manifest, type MerchantName } from './layout.js';

export * from '../../lib/testing/mint.js';
export type { AuthorityName, MerchantName } from './layout.js';

export interface PkiEntity extends KitEntity {
  certPath: string;
  keyPath: string;
}

export interface TestMerchant extends KitMerchant, PkiEntity {
  name: MerchantName;
  p12: Buffer | null;
  p12NoPassphrase: Buffer | null;
}

export interface TestPki extends Omit<KitPki, 'root' | 'intermediate' | 'leafEc' | 'leafRsa' | 'wwdr' | 'merchants'> {
  dir: string;
  manifest: Manifest;
  p12Passphrase: string;
  root: PkiEntity;
  intermediate: PkiEntity;
  leafEc: PkiEntity;
  leafRsa: PkiEntity;
  wwdr: PkiEntity;
  merchants: Record<MerchantName, TestMerchant>;
}

const pkiCache = new Map<string, TestPki>();

/** Read test-vectors/pki/ (or another directory in its layout). Cached per directory. */
export function loadTestPki(dir: string = PKI_DIR): TestPki {
  dir = resolve(dir);
  const cached = pkiCache.get(dir);
  if (cached) return cached;
  const { pki, manifest: kitManifest } = loadPkiDir(dir);
  const manifest = kitManifest as unknown as Manifest;
  const withPaths = (e: KitEntity, entry: { cert: string; key: string }): PkiEntity =>
    Object.assign(e, { certPath: join(dir, entry.cert), keyPath: join(dir, entry.key) });
  for (const n of ['root', 'intermediate', 'leafEc', 'leafRsa', 'wwdr'] as const) withPaths(pki[n], manifest.authorities[n]);
  for (const [name, m] of Object.entries(pki.merchants)) {
    const entry = manifest.merchants[name as MerchantName];
    withPaths(m, entry);
    Object.assign(m, {
      p12: entry.p12 ? readFileSync(join(dir, entry.p12)) : null,
      p12NoPassphrase: entry.p12NoPassphrase ? readFileSync(join(dir, entry.p12NoPassphrase)) : null,
    });
  }
  const out = Object.assign(pki, { dir, manifest, p12Passphrase: manifest.p12Passphrase }) as unknown as TestPki;
  pkiCache.set(dir, out);
  return out;
}
