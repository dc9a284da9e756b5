// Which Apple Pay environment signed a token. Apple signs production and sandbox tokens with two
// different leaf certificates under the same intermediate and root: "ecc-smp-broker-sign_UC4-PROD"
// (and rsa-...) in production, "ecc-smp-broker-sign_UC4-SANDBOX" in the sandbox. Both carry the leaf
// marker and both chain to Apple Root CA - G3, so only the leaf's name tells them apart. A chain that
// ends in any other root (a test PKI) is a test token, whatever its leaf is called.
import { APPLE_ROOT_CA_G3_FINGERPRINT } from '../x509/apple-roots.js';
import { subjectCommonName } from '../x509/cert-facts.js';
import type { ParsedCertificate } from '../x509/certificates.js';

export type Environment = 'production' | 'sandbox' | 'test';

/** The environment a signing leaf's name claims; anything not named sandbox counts as production. */
export function leafEnvironment(leaf: ParsedCertificate): 'production' | 'sandbox' {
  return /sandbox/i.test(subjectCommonName(leaf) ?? '') ? 'sandbox' : 'production';
}

/** The environment of a validated chain: 'test' unless its root is Apple's pinned root. */
export function chainEnvironment(chain: { readonly leaf: ParsedCertificate; readonly root: ParsedCertificate }): Environment {
  if (chain.root.fingerprint !== APPLE_ROOT_CA_G3_FINGERPRINT) return 'test';
  return leafEnvironment(chain.leaf);
}
