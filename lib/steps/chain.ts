// docs/token-format.md#certificate-chain: find Apple's leaf and intermediate by their marker extensions, and check
// leaf <- intermediate <- pinned root. Nothing in the token is ever used as a trust anchor.
//
// Apple rotates these certificates every few years, so nearly every token carries the same two. The
// verdict on a certificate set depends only on its bytes and the root, so it is computed once and
// kept in a bounded cache keyed by the exact DER; the checks that depend on the token (validity at its
// signing time, the key type its version needs) run on every token.
import { ApplePayError } from '../errors.js';
import { CertificateError, KEY_USAGE, OID, isIssuedBy, isValidAt, parseCertificate, type ParsedCertificate } from '../x509/certificates.js';
import { isNativeError, native, type SignerKeyHandle } from '../native/binding.js';
import type { TokenVersion } from './token.js';
import { chainEnvironment, leafEnvironment, type Environment } from '../verifier/environment.js';

export interface Chain {
  readonly leaf: ParsedCertificate;
  readonly intermediate: ParsedCertificate;
  readonly root: ParsedCertificate;
  /** The leaf's public key inside the addon, imported once per chain; null when the addon refuses its type. */
  readonly signerKey: SignerKeyHandle | null;
  /** Decided once per certificate set, like the rest of the chain, not once per token. */
  readonly environment: Environment;
  /** What the leaf's name claims, whatever the root (the acceptSandbox check reads it). */
  readonly leafEnvironment: 'production' | 'sandbox';
}

type Verdict = { ok: true; chain: Chain } | { ok: false; error: ApplePayError };

export const DEFAULT_CHAIN_CACHE_SIZE = 64;
/** Lookups per cache entry between two halvings of the use counts. */
const AGING_PERIOD = 16;

export class ChainValidator {
  // Recency order (a hit re-inserts); `uses` is how often each set was looked up, halved every
  // AGING_PERIOD lookups per entry so that sets nobody sends any more lose their place.
  private readonly cache = new Map<string, { verdict: Verdict; uses: number }>();
  // Sets recently computed but not admitted, with their look-up counts (admission only; never a verdict).
  private readonly candidates = new Map<string, number>();
  private lookups = 0;
  private hits = 0;
  private misses = 0;
  private last: { readonly certificates: readonly Buffer[]; readonly verdict: Verdict } | null = null;
  // Intermediates already verified against the root, by DER: the P-384 check is the costliest step
  // of a first token, and Apple has one intermediate per decade.
  private readonly trustedIntermediates = new Map<string, ParsedCertificate>();
  // The addon's handle for an issuer's key, once vouched for (null: the addon refuses its type). Weak:
  // it lives as long as the parsed certificate does.
  private readonly issuerKeys = new WeakMap<ParsedCertificate, SignerKeyHandle | null>();
  // Leaf keys in the addon by their SubjectPublicKeyInfo bytes, most recently used last. Apple renews
  // its leaf certificates without changing the key (the production EC leaves of 2014 and 2019 among the
  // real tokens carry the same one), so a renewed leaf, or a set that fell out of the cache, reuses
  // the handle and the fixed-base table its key has earned instead of importing it again and
  // verifying through EVP on a cold key. A handle depends only on these bytes.
  private readonly leafKeys = new Map<string, SignerKeyHandle | null>();

  constructor(
    readonly root: ParsedCertificate,
    private readonly maxEntries: number = DEFAULT_CHAIN_CACHE_SIZE,
  ) {
    const problem = rootProblem(root);
    if (problem !== null) {
      throw new ApplePayError('ROOT_CERT_INVALID', `rootCertificate cannot anchor the chain: ${problem}`, {
        field: 'rootCertificate',
        certificate: 'root',
      });
    }
  }

  /**
   * Checks an intermediate against the root ahead of the first token (warm start). Returns false,
   * remembering nothing, when it is not a marked CA certificate issued by the root.
   */
  prevalidateIntermediate(der: Buffer): boolean {
    let cert: ParsedCertificate;
    try {
      cert = parseCertificate(der);
    } catch (err) {
      if (err instanceof CertificateError) return false;
      throw err;
    }
    if (!cert.extensions.has(OID.intermediateMarker) || !this.issuedBy(cert, this.root)) return false;
    try {
      checkIntermediateProfile(cert);
    } catch (err) {
      if (err instanceof ApplePayError) return false;
      throw err;
    }
    this.rememberIntermediate(cert);
    return true;
  }

  // Every issuer check of the chain. ECDSA P-256 with SHA-256 (how Apple's intermediates sign leaves:
  // the one public-key operation every never-seen certificate set needs) goes through the addon with
  // the issuer's key imported once, about half of node:crypto's cost per check; anything else (the
  // root's P-384 signature on the intermediate) through node:crypto. The issuer is always one this
  // validator vouches for: the root, or an intermediate the root has signed.
  private issuedBy(cert: ParsedCertificate, issuer: ParsedCertificate): boolean {
    if (cert.signatureAlgorithm !== OID.ecdsaWithSha256 || issuer.keyType !== 'ec-p256' || !cert.issuer.equals(issuer.subject)) {
      return isIssuedBy(cert, issuer);
    }
    let handle = this.issuerKeys.get(issuer);
    if (handle === undefined) {
      handle = importSignerKey(issuer);
      this.issuerKeys.set(issuer, handle);
    }
    if (handle === null) return isIssuedBy(cert, issuer);
    return native.verifySignature(handle, cert.tbs, cert.signatureValue);
  }

  private rememberIntermediate(cert: ParsedCertificate): void {
    this.trustedIntermediates.set(cert.der.toString('latin1'), cert);
    if (this.trustedIntermediates.size > this.maxEntries) this.trustedIntermediates.delete(this.trustedIntermediates.keys().next().value!);
  }

  private leafKey(leaf: ParsedCertificate): SignerKeyHandle | null {
    const key = leaf.spki.toString('latin1');
    let handle = this.leafKeys.get(key);
    if (handle !== undefined) {
      this.leafKeys.delete(key);
    } else {
      handle = importSignerKey(leaf);
      if (this.leafKeys.size >= this.maxEntries) this.leafKeys.delete(this.leafKeys.keys().next().value!);
    }
    this.leafKeys.set(key, handle);
    return handle;
  }

  /** Leaf keys held by the addon for reuse (at most the cache size). */
  get leafKeyCount(): number {
    return this.leafKeys.size;
  }

  get cacheSize(): number {
    return this.cache.size;
  }

  /** Lookups answered from the cache and lookups that computed a verdict, since construction. */
  get cacheStats(): { hits: number; misses: number } {
    return { hits: this.hits, misses: this.misses };
  }

  /** Validates the certificate set of a token; throws the ApplePayError for the first check that fails. */
  validate(certificates: readonly Buffer[], version: TokenVersion, signingTime: Date): Chain {
    const chain = this.verdictFor(certificates);
    checkLeafKey(chain, version);
    checkValidity(chain, signingTime);
    return chain;
  }

  private verdictFor(certificates: readonly Buffer[]): Chain {
    // Nearly every token carries the same two certificates as the one before: compare bytes first.
    const last = this.last;
    if (last !== null && sameCertificates(last.certificates, certificates)) {
      if (!last.verdict.ok) throw last.verdict.error;
      return last.verdict.chain;
    }
    // Length-prefixed so that two different splits of the same bytes cannot share a key.
    let key = '';
    for (const der of certificates) key += `${der.length}:${der.toString('latin1')}`;
    if (++this.lookups >= AGING_PERIOD * this.maxEntries) this.age();
    let verdict: Verdict;
    const entry = this.cache.get(key);
    if (entry !== undefined) {
      // Least recently used goes first: re-insert on every hit.
      this.cache.delete(key);
      this.cache.set(key, entry);
      entry.uses++;
      this.hits++;
      verdict = entry.verdict;
    } else {
      verdict = this.computeVerdict(certificates);
      this.misses++;
      this.admit(key, verdict);
    }
    this.last = { certificates, verdict };
    if (!verdict.ok) throw verdict.error;
    return verdict.chain;
  }

  // More distinct sets than the cache holds, in rotation, would make plain LRU miss on every token.
  // A full cache instead admits a set only when it has been looked up more often than the least
  // recently used entry (counting the lookups that found it missing): sets in steady use stay, and
  // a flood of never-repeated sets (a scan, or more leaves than the cache) passes through without
  // evicting them. A new leaf that Apple starts sending is admitted on its second or third token.
  private admit(key: string, verdict: Verdict): void {
    const uses = (this.candidates.get(key) ?? 0) + 1;
    if (this.cache.size >= this.maxEntries) {
      const [victimKey, victim] = this.cache.entries().next().value!;
      if (uses <= victim.uses) {
        this.candidates.delete(key);
        this.candidates.set(key, uses);
        if (this.candidates.size > 2 * this.maxEntries) this.candidates.delete(this.candidates.keys().next().value!);
        return;
      }
      this.cache.delete(victimKey);
    }
    this.candidates.delete(key);
    this.cache.set(key, { verdict, uses });
  }

  private age(): void {
    this.lookups = 0;
    for (const entry of this.cache.values()) entry.uses >>= 1;
    for (const [key, uses] of this.candidates) {
      if (uses <= 1) this.candidates.delete(key);
      else this.candidates.set(key, uses >> 1);
    }
  }

  private computeVerdict(certificates: readonly Buffer[]): Verdict {
    try {
      return { ok: true, chain: this.buildChain(certificates) };
    } catch (err) {
      if (err instanceof ApplePayError) return { ok: false, error: err };
      throw err;
    }
  }

  private buildChain(certificates: readonly Buffer[]): Chain {
    const root = this.root;
    const parsed = certificates.map((der, index) => {
      const known = this.trustedIntermediates.get(der.toString('latin1'));
      if (known !== undefined) return known;
      try {
        return parseCertificate(der);
      } catch (err) {
        if (err instanceof CertificateError) {
          throw new ApplePayError('SIGNATURE_MALFORMED', `certificate ${index} in the signature is invalid: ${err.message}`, {
            field: 'signature',
          });
        }
        throw err;
      }
    });

    const leaves = parsed.filter((c) => c.extensions.has(OID.leafMarker));
    if (leaves.length !== 1) {
      throw new ApplePayError(
        'LEAF_CERT_INVALID',
        leaves.length === 0
          ? 'no certificate carries the Apple Pay leaf marker 1.2.840.113635.100.6.29'
          : 'several certificates carry the leaf marker',
        { certificate: 'leaf' },
      );
    }
    const intermediates = parsed.filter((c) => c.extensions.has(OID.intermediateMarker));
    if (intermediates.length !== 1) {
      throw new ApplePayError(
        'INTERMEDIATE_CERT_INVALID',
        intermediates.length === 0
          ? 'no certificate carries the Apple intermediate marker 1.2.840.113635.100.6.2.14'
          : 'several certificates carry the intermediate marker',
        { certificate: 'intermediate' },
      );
    }
    const leaf = leaves[0]!;
    const intermediate = intermediates[0]!;
    if (leaf === intermediate) {
      throw new ApplePayError('LEAF_CERT_INVALID', 'one certificate carries both the leaf and the intermediate marker', {
        certificate: 'leaf',
      });
    }
    checkLeafProfile(leaf);
    checkIntermediateProfile(intermediate);
    if (!this.trustedIntermediates.has(intermediate.der.toString('latin1'))) {
      if (!this.issuedBy(intermediate, root)) {
        throw new ApplePayError('CHAIN_UNTRUSTED', 'the intermediate certificate is not issued by the pinned root', {
          certificate: 'intermediate',
        });
      }
      this.rememberIntermediate(intermediate);
    }
    if (!this.issuedBy(leaf, intermediate)) {
      throw new ApplePayError('CHAIN_UNTRUSTED', 'the leaf certificate is not issued by the intermediate', { certificate: 'leaf' });
    }
    return {
      leaf,
      intermediate,
      root,
      signerKey: this.leafKey(leaf),
      environment: chainEnvironment({ leaf, root }),
      leafEnvironment: leafEnvironment(leaf),
    };
  }
}

// RFC 5280 6.1 on the two certificates the token carries, and Apple's profile where it is narrower: the
// leaf is an end entity whose keyUsage allows digital signatures; the intermediate is a CA whose keyUsage
// allows certificate signing; neither carries a critical extension this package does not understand.
function checkLeafProfile(leaf: ParsedCertificate): void {
  const refuse = (message: string): never => {
    throw new ApplePayError('LEAF_CERT_INVALID', message, { certificate: 'leaf' });
  };
  if (leaf.isCA) refuse('the leaf certificate is a CA certificate');
  if (leaf.pathLength !== null) refuse('the leaf certificate has a path length constraint but is not a CA');
  if (leaf.keyUsage === null) refuse('the leaf certificate has no keyUsage extension');
  if ((leaf.keyUsage! & KEY_USAGE.digitalSignature) === 0) refuse("the leaf certificate's keyUsage does not allow digital signatures");
  if ((leaf.keyUsage! & KEY_USAGE.keyCertSign) !== 0) refuse("the leaf certificate's keyUsage allows certificate signing");
  if (leaf.unknownCriticalExtensions.length !== 0) refuse('the leaf certificate has a critical extension that is not understood');
  checkNames(leaf, refuse, 'leaf');
}

// RFC 5280 4.1.2.4/4.1.2.6 and 4.2.1.1: an issued certificate names its issuer and subject and says
// which issuer key signed it. (OpenSSL's strict mode refuses certificates without them, too.)
function checkNames(cert: ParsedCertificate, refuse: (message: string) => never, role: string): void {
  if (cert.issuer.length <= 2) refuse(`the ${role} certificate has an empty issuer name`);
  if (cert.subject.length <= 2) refuse(`the ${role} certificate has an empty subject name`);
  if (!cert.extensions.has(OID.authorityKeyIdentifier)) refuse(`the ${role} certificate has no authority key identifier`);
  if (cert.criticalExtensions.has(OID.authorityKeyIdentifier) || cert.criticalExtensions.has(OID.subjectKeyIdentifier)) {
    refuse(`the ${role} certificate marks a key identifier critical`);
  }
}

function checkIntermediateProfile(intermediate: ParsedCertificate): void {
  const refuse = (message: string): never => {
    throw new ApplePayError('INTERMEDIATE_CERT_INVALID', message, { certificate: 'intermediate' });
  };
  if (!intermediate.isCA) refuse('the intermediate certificate is not a CA certificate');
  // RFC 5280 4.2.1.9: a CA marks basicConstraints critical.
  if (!intermediate.criticalExtensions.has(OID.basicConstraints)) refuse("the intermediate certificate's basicConstraints is not critical");
  if (!intermediate.extensions.has(OID.subjectKeyIdentifier)) refuse('the intermediate certificate has no subject key identifier');
  if (intermediate.keyUsage === null) refuse('the intermediate certificate has no keyUsage extension');
  if ((intermediate.keyUsage! & KEY_USAGE.keyCertSign) === 0)
    refuse("the intermediate certificate's keyUsage does not allow certificate signing");
  if (intermediate.unknownCriticalExtensions.length !== 0) {
    refuse('the intermediate certificate has a critical extension that is not understood');
  }
  checkNames(intermediate, refuse, 'intermediate');
}

/**
 * The configured root as a trust anchor for a two-certificate path: a CA (checked where it is loaded),
 * whose path length constraint, keyUsage and critical extensions allow one intermediate below it.
 * Returns the problem, or null.
 */
export function rootProblem(root: ParsedCertificate): string | null {
  if (root.pathLength !== null && root.pathLength < 1) return 'its path length constraint allows no intermediate';
  if (root.keyUsage !== null && (root.keyUsage & KEY_USAGE.keyCertSign) === 0) return 'its keyUsage does not allow certificate signing';
  if (root.unknownCriticalExtensions.length !== 0) return 'it has a critical extension that is not understood';
  if (root.keyType === 'other') return 'its key type cannot sign an intermediate';
  return null;
}

function sameCertificates(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!a[i]!.equals(b[i]!)) return false;
  return true;
}

function importSignerKey(cert: ParsedCertificate): SignerKeyHandle | null {
  let handle: SignerKeyHandle;
  try {
    handle = native.importPublicKey(cert.spki);
  } catch (err) {
    if (isNativeError(err) && (err.code === 'ERR_KEY_UNSUPPORTED' || err.code === 'ERR_KEY_DECODE')) return null;
    throw err;
  }
  // The handle is cached with the chain: one that does not describe the certificate's key would fail every
  // token with these certificates (or signed by this intermediate), so a fault here must throw (uncached) rather than be remembered.
  const expected = cert.keyType === 'rsa' ? 'rsa' : 'ec';
  if (typeof handle !== 'object' || handle === null || handle.type !== expected) throw new Error('the addon returned no usable signer key');
  return handle;
}

function checkLeafKey(chain: Chain, version: TokenVersion): void {
  const { leaf } = chain;
  const fits = version === 'EC_v1' ? leaf.keyType === 'ec-p256' : leaf.keyType === 'rsa' && leaf.rsaBits >= 2048;
  if (!fits || chain.signerKey === null) {
    throw new ApplePayError('LEAF_CERT_INVALID', `the leaf certificate's key is not the type ${version} is signed with`, {
      certificate: 'leaf',
    });
  }
}

function checkValidity(chain: Chain, signingTime: Date): void {
  for (const role of ['leaf', 'intermediate', 'root'] as const) {
    if (!isValidAt(chain[role], signingTime)) {
      throw new ApplePayError('CERT_EXPIRED', `the ${role} certificate is not valid at the signing time`, {
        certificate: role,
        signingTime: signingTime.toISOString(),
      });
    }
  }
}
