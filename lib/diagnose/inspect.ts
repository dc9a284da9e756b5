// inspectToken(): the non-secret facts of a token, for logs, support tools and `applepay-verify
// diagnose`. Reads the token, its CMS and its certificates, checks the chain and the signature as the
// verifier would, and decrypts nothing: it needs no merchant key and prints nothing a key protects.
import { APPLE_ROOT_CA_G3, APPLE_ROOT_CA_G3_FINGERPRINT } from '../x509/apple-roots.js';
import { issuerCommonName, subjectCommonName } from '../x509/cert-facts.js';
import { CertificateError, OID, certificateDer, isValidAt, parseCertificate, type ParsedCertificate } from '../x509/certificates.js';
import { ChainValidator, type Chain } from '../steps/chain.js';
import { parseSignedData, type SignerInfo } from '../steps/signed-data.js';
import { chainEnvironment, leafEnvironment, type Environment } from '../verifier/environment.js';
import { ApplePayError, toApplePayError, type ErrorCode } from '../errors.js';
import { checkSignatureSync } from '../steps/decrypt.js';
import { checkSignerIsLeaf } from '../steps/signer.js';
import { DEFAULT_TOKEN_LIMITS, parseToken, type ParsedToken } from '../steps/token.js';

export interface InspectOptions {
  /** Trust anchor, PEM or DER. Default: the bundled Apple Root CA - G3. */
  rootCertificate?: string | Uint8Array;
  /** The instant the age is measured at. Default: now. */
  now?: Date;
}

export interface CertificateFacts {
  subject: string | null;
  issuer: string | null;
  notBefore: Date;
  notAfter: Date;
  /** Whether the certificate was valid at the token's signing time (null: no signing time). */
  validAtSigningTime: boolean | null;
  /** SHA-256 of the DER, upper-case hex. */
  fingerprint: string;
}

export interface Verdict {
  ok: boolean;
  /** The error code the verifier gives for this step, when it fails. */
  code?: ErrorCode;
  message?: string;
}

export interface TokenFacts {
  version: string;
  /** Lower-case hex. */
  transactionId: string;
  /** Base64: SHA-256 of the SubjectPublicKeyInfo of the Payment Processing certificate the token was encrypted for. */
  publicKeyHash: string;
  applicationData: string | null;
  /** null when the signature could not be read or carries none. */
  signingTime: Date | null;
  /** Milliseconds between signingTime and `now` (negative: signed in the future). */
  ageMs: number | null;
  /** The certificate that signed (by issuerAndSerialNumber), or the one with Apple's leaf marker. */
  leaf: CertificateFacts | null;
  intermediate: CertificateFacts | null;
  /** The leaf's own claim, by its name: Apple names its sandbox leaf "...-SANDBOX". */
  leafEnvironment: 'production' | 'sandbox' | null;
  /**
   * Where the token comes from: 'production' or 'sandbox' when the chain anchors to Apple's pinned root,
   * 'test' when it anchors to another configured root; null when it anchors to none.
   */
  environment: Environment | null;
  /** True when the trust anchor used is the bundled Apple root. */
  appleRoot: boolean;
  chain: Verdict;
  signature: Verdict;
}

function verdictOf(err: unknown): Verdict {
  const e = toApplePayError(err);
  return { ok: false, code: e.code, message: e.message };
}

function facts(cert: ParsedCertificate, signingTime: Date | null): CertificateFacts {
  return {
    subject: subjectCommonName(cert),
    issuer: issuerCommonName(cert),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    validAtSigningTime: signingTime === null ? null : isValidAt(cert, signingTime),
    fingerprint: cert.fingerprint,
  };
}

function loadRoot(input: string | Uint8Array | undefined): ParsedCertificate {
  const der = certificateDer(input ?? APPLE_ROOT_CA_G3);
  if (der === null)
    throw new ApplePayError('ROOT_CERT_INVALID', 'rootCertificate is not one PEM or DER certificate', { certificate: 'root' });
  try {
    return parseCertificate(der);
  } catch (err) {
    if (err instanceof CertificateError)
      throw new ApplePayError('ROOT_CERT_INVALID', `rootCertificate is invalid: ${err.message}`, { certificate: 'root' });
    throw err;
  }
}

function parseAll(certificates: readonly Buffer[]): ParsedCertificate[] {
  const out: ParsedCertificate[] = [];
  for (const der of certificates) {
    try {
      out.push(parseCertificate(der));
    } catch (err) {
      if (!(err instanceof CertificateError)) throw err;
    }
  }
  return out;
}

export interface Inspector {
  /** inspectToken with this inspector's root, reusing its chain verdicts: for logs and support tools. */
  inspect(token: unknown, options?: { now?: Date }): TokenFacts;
}

/**
 * An inspector keeps what inspectToken would redo on every call (the parsed root, the chain verdict of
 * each certificate set it has met), per instance, like a verifier.
 */
export function createInspector(options: Pick<InspectOptions, 'rootCertificate'> = {}): Inspector {
  const root = loadRoot(options.rootCertificate);
  const chains = new ChainValidator(root);
  return { inspect: (token, o = {}) => inspect(token, root, chains, o.now ?? new Date()) };
}

/**
 * The facts of one token. Throws an ApplePayError only when the token itself cannot be read
 * (TOKEN_MALFORMED, TOKEN_TOO_LARGE, UNSUPPORTED_VERSION) or the root option is unusable; every later
 * failure is reported in `chain` and `signature` with the code the verifier would give.
 * For many tokens, createInspector() keeps the chain verdicts between calls.
 */
export function inspectToken(token: unknown, options: InspectOptions = {}): TokenFacts {
  return createInspector(options).inspect(token, options.now === undefined ? {} : { now: options.now });
}

function inspect(token: unknown, root: ParsedCertificate, chains: ChainValidator, now: Date): TokenFacts {
  const parsed: ParsedToken = parseToken(token, DEFAULT_TOKEN_LIMITS);
  const appleRoot = root.fingerprint === APPLE_ROOT_CA_G3_FINGERPRINT;
  const result: TokenFacts = {
    version: parsed.version,
    transactionId: parsed.transactionId,
    publicKeyHash: parsed.publicKeyHash.toString('base64'),
    applicationData: parsed.applicationData ?? null,
    signingTime: null,
    ageMs: null,
    leaf: null,
    intermediate: null,
    leafEnvironment: null,
    environment: null,
    appleRoot,
    chain: { ok: false },
    signature: { ok: false },
  };

  let signer: SignerInfo;
  let certificates: readonly Buffer[];
  try {
    ({ signer, certificates } = parseSignedData(parsed.signature, parsed.version));
  } catch (err) {
    result.signature = verdictOf(err);
    result.chain = {
      ok: false,
      code: result.signature.code,
      message: 'the signature could not be read, so neither could its certificates',
    };
    return result;
  }
  result.signingTime = signer.signingTime;
  result.ageMs = now.getTime() - signer.signingTime.getTime();

  let chain: Chain | null = null;
  try {
    chain = chains.validate(certificates, parsed.version, signer.signingTime);
    result.chain = { ok: true };
    result.environment = chainEnvironment(chain);
  } catch (err) {
    result.chain = verdictOf(err);
  }

  // A validated chain has its certificates parsed already; otherwise read them for the facts.
  const certs = chain !== null ? [chain.leaf, chain.intermediate] : parseAll(certificates);
  const leaf =
    certs.find((c) => c.issuer.equals(signer.issuer) && c.serialNumber.equals(signer.serialNumber)) ??
    certs.find((c) => c.extensions.has(OID.leafMarker)) ??
    null;
  const intermediate =
    (leaf === null ? undefined : certs.find((c) => c !== leaf && c.subject.equals(leaf.issuer))) ??
    certs.find((c) => c.extensions.has(OID.intermediateMarker)) ??
    null;
  if (leaf !== null) {
    result.leaf = facts(leaf, signer.signingTime);
    // A certificate without Apple's leaf marker is not Apple's production or sandbox leaf, whatever its name.
    result.leafEnvironment = leaf.extensions.has(OID.leafMarker) ? leafEnvironment(leaf) : null;
  }
  if (intermediate !== null) result.intermediate = facts(intermediate, signer.signingTime);

  // Expired certificates still anchor to the root: the structure and signatures were checked first.
  if (result.chain.code === 'CERT_EXPIRED' && leaf !== null) result.environment = appleRoot ? leafEnvironment(leaf) : 'test';

  if (chain === null) {
    result.signature = { ok: false, message: 'not checked: the certificate chain did not validate' };
    return result;
  }
  try {
    // The addon checks the messageDigest, then the signature, as in a verification.
    checkSignerIsLeaf(signer, chain);
    checkSignatureSync({ token: parsed, signer, chain });
    result.signature = { ok: true };
  } catch (err) {
    result.signature = verdictOf(err);
  }
  return result;
}
