/**
 * What test-vectors/pki/ contains: the roster make-pki.ts issues and the shape of
 * manifest.json that loadTestPki() reads back.
 */
import { fileURLToPath } from 'node:url';
import { MERCHANT_IDS } from './pki.js';

export const PKI_DIR = fileURLToPath(new URL('../pki/', import.meta.url));

export const P12_PASSPHRASE = 'test-passphrase';

export type KeySpec = { type: 'EC'; curve: 'P-256' | 'P-384' } | { type: 'RSA'; bits: 2048 };

export type AuthorityName = 'root' | 'intermediate' | 'leafEc' | 'leafRsa' | 'wwdr';
export type MerchantName = 'ec' | 'ecRotated' | 'rsa' | 'zero';

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
  /** PKCS#12 of cert + key with P12_PASSPHRASE; null when openssl was unavailable. */
  p12: string | null;
  /** PKCS#12 of cert + key without a passphrase (unencrypted bags, MAC under the empty password). */
  p12NoPassphrase: string | null;
}

export interface Manifest {
  description: string;
  generator: string;
  generatedAt: string;
  p12Passphrase: string;
  authorities: Record<AuthorityName, AuthorityEntry>;
  merchants: Record<MerchantName, MerchantEntry>;
}

export interface AuthorityPlan {
  name: AuthorityName;
  file: string;
  role: string;
  key: KeySpec;
}

export const AUTHORITY_PLAN: readonly AuthorityPlan[] = [
  {
    name: 'root',
    file: 'root',
    key: { type: 'EC', curve: 'P-384' },
    role: 'Trust anchor: "Apple Root CA - G3" names and extensions on a test P-384 key. Configure it as the root in tests; against the real pinned root it is the foreign-root-with-Apple-names case.',
  },
  {
    name: 'intermediate',
    file: 'intermediate',
    key: { type: 'EC', curve: 'P-256' },
    role: '"Apple Application Integration CA - G3" with marker 1.2.840.113635.100.6.2.14, signed by root (ecdsa-with-SHA256, as Apple\'s is).',
  },
  {
    name: 'leafEc',
    file: 'leaf-ec',
    key: { type: 'EC', curve: 'P-256' },
    role: 'EC_v1 payment-signing leaf "ecc-smp-broker-sign_UC4-PROD" with marker 1.2.840.113635.100.6.29, signed by intermediate.',
  },
  {
    name: 'leafRsa',
    file: 'leaf-rsa',
    key: { type: 'RSA', bits: 2048 },
    role: 'RSA_v1 payment-signing leaf "rsa-smp-broker-sign_UC4-PROD" (RSA-2048) with marker 1.2.840.113635.100.6.29, ECDSA-signed by intermediate.',
  },
  {
    name: 'wwdr',
    file: 'wwdr',
    key: { type: 'EC', curve: 'P-256' },
    role: '"Apple Worldwide Developer Relations CA - G2" look-alike that issues the merchant certificates, signed by root.',
  },
];

export interface MerchantPlan {
  name: MerchantName;
  file: string;
  identifier: string;
  role: string;
  key: KeySpec;
}

export const MERCHANT_PLAN: readonly MerchantPlan[] = [
  {
    name: 'ec',
    file: 'merchant-ec',
    identifier: MERCHANT_IDS.ec,
    key: { type: 'EC', curve: 'P-256' },
    role: 'EC_v1 merchant (P-256 payment-processing key).',
  },
  {
    name: 'ecRotated',
    file: 'merchant-ec-rotated',
    identifier: MERCHANT_IDS.ec,
    key: { type: 'EC', curve: 'P-256' },
    role: 'Same merchant identifier as "ec" with a second key: key-rotation / key-selection tests.',
  },
  {
    name: 'rsa',
    file: 'merchant-rsa',
    identifier: MERCHANT_IDS.rsa,
    key: { type: 'RSA', bits: 2048 },
    role: 'RSA_v1 merchant (RSA-2048 payment-processing key).',
  },
  {
    name: 'zero',
    file: 'merchant-zero',
    identifier: MERCHANT_IDS.zero,
    key: { type: 'EC', curve: 'P-256' },
    role: 'EC_v1 merchant whose identifier hash starts with 0x00 (Party V leading-zero case).',
  },
];
