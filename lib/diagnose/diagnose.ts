// diagnoseToken(): why a token fails, in the words of a payment engineer. Combines inspectToken's
// facts (read without any key), the configured keys' hashes, and, when keys are given, one verification
// with them, into one cause with a stable name and the fix. Nothing secret leaves this module: no key
// material, no decrypted data (the payment itself is dropped after the verdict).
import { createHash } from 'node:crypto';
import { MERCHANT_IDENTITY_MESSAGE, merchantCertificateKind, subjectUserId } from '../x509/cert-facts.js';
import { CertificateError, certificateDer, merchantIdentifierHash, parseCertificate } from '../x509/certificates.js';
import { ApplePayError, toApplePayError, type ErrorCode } from '../errors.js';
import { createVerifier, type VerifierOptions } from '../index.js';
import { inspectToken, type TokenFacts } from './inspect.js';
import type { MerchantOptions } from '../steps/merchant-key.js';

/** Stable names of the causes diagnose concludes with. */
export const DIAGNOSIS_CAUSES = [
  'verified', // keys given: the token verifies and decrypts
  'genuine', // no keys given: signature, chain and signing time are fine; nothing was decrypted
  'malformed-token', // TOKEN_MALFORMED, TOKEN_TOO_LARGE, SIGNATURE_MALFORMED, SIGNING_TIME_MISSING, PAYLOAD_INVALID
  'unsupported-version',
  'tampered', // SIGNATURE_INVALID, EPHEMERAL_KEY_INVALID: changed after Apple signed it, or forged
  'untrusted-signer', // LEAF_CERT_INVALID, INTERMEDIATE_CERT_INVALID, CHAIN_UNTRUSTED
  'certificate-expired', // CERT_EXPIRED
  'too-old', // SIGNING_TIME_TOO_OLD
  'signed-in-future', // SIGNING_TIME_IN_FUTURE
  'sandbox-refused', // SANDBOX_TOKEN_REFUSED
  'other-certificate', // MERCHANT_KEY_NOT_FOUND: encrypted for a key that is not configured
  'merchant-identity-certificate', // a Merchant Identity certificate configured as the merchant certificate
  'key-mismatch', // DECRYPTION_FAILED: the key named by the hash does not decrypt
  'replay', // REPLAY_DETECTED
  'replay-store-unavailable',
  'configuration', // any other configuration error
  'internal',
] as const;
export type DiagnosisCause = (typeof DIAGNOSIS_CAUSES)[number];

export interface ConfiguredKey {
  index: number;
  /** 'payment-processing', 'merchant-identity', or 'key-only' (configured without a certificate). */
  kind: 'payment-processing' | 'merchant-identity' | 'key-only';
  merchantIdentifier: string | null;
  publicKeyHash: string | null;
  notAfter: Date | null;
  /** Whether this key's hash is the token's publicKeyHash. */
  matchesToken: boolean;
  /** A problem loading this entry, as the verifier reports it. */
  problem?: { code: ErrorCode; message: string };
}

export interface Diagnosis {
  /** null when the token could not even be read. */
  token: TokenFacts | null;
  keys: ConfiguredKey[];
  /** The verifier's verdict: present when keys were given (or the token could not be read). */
  verification?: { ok: true } | { ok: false; code: ErrorCode; message: string };
  cause: DiagnosisCause;
  /** One paragraph: what happened, the likely reason, and the fix. */
  conclusion: string;
}

export interface DiagnoseOptions {
  merchants?: MerchantOptions | readonly MerchantOptions[];
  rootCertificate?: string | Uint8Array;
  now?: Date;
  /** Further verifier options (maxSignatureAge, acceptSandbox, replayGuard, ...), as for createVerifier. */
  verifier?: Omit<VerifierOptions, 'merchants' | 'rootCertificate'>;
}

const CAUSE_OF_CODE: Record<ErrorCode, DiagnosisCause> = {
  CONFIG_INVALID: 'configuration',
  MERCHANT_CERT_INVALID: 'configuration',
  MERCHANT_KEY_INVALID: 'configuration',
  ROOT_CERT_INVALID: 'configuration',
  TOKEN_MALFORMED: 'malformed-token',
  TOKEN_TOO_LARGE: 'malformed-token',
  UNSUPPORTED_VERSION: 'unsupported-version',
  SIGNATURE_MALFORMED: 'malformed-token',
  SIGNATURE_INVALID: 'tampered',
  SIGNING_TIME_MISSING: 'malformed-token',
  SIGNING_TIME_TOO_OLD: 'too-old',
  SIGNING_TIME_IN_FUTURE: 'signed-in-future',
  LEAF_CERT_INVALID: 'untrusted-signer',
  INTERMEDIATE_CERT_INVALID: 'untrusted-signer',
  CHAIN_UNTRUSTED: 'untrusted-signer',
  CERT_EXPIRED: 'certificate-expired',
  MERCHANT_KEY_NOT_FOUND: 'other-certificate',
  EPHEMERAL_KEY_INVALID: 'tampered',
  DECRYPTION_FAILED: 'key-mismatch',
  PAYLOAD_INVALID: 'malformed-token',
  REPLAY_DETECTED: 'replay',
  REPLAY_STORE_UNAVAILABLE: 'replay-store-unavailable',
  INTERNAL: 'internal',
  SANDBOX_TOKEN_REFUSED: 'sandbox-refused',
};

/** The cause diagnose gives for a verifier error code. */
export function causeOf(code: ErrorCode): DiagnosisCause {
  return CAUSE_OF_CODE[code];
}

const sha256b64 = (data: Uint8Array): string => createHash('sha256').update(data).digest('base64');

function describeEntry(
  entry: MerchantOptions,
  index: number,
  tokenHash: string | null,
  root: VerifierOptions['rootCertificate'],
): ConfiguredKey {
  const key: ConfiguredKey = {
    index,
    kind: 'key-only',
    merchantIdentifier: null,
    publicKeyHash: null,
    notAfter: null,
    matchesToken: false,
  };
  if (entry.certificate !== undefined) {
    const der = typeof entry.certificate === 'string' || entry.certificate instanceof Uint8Array ? certificateDer(entry.certificate) : null;
    try {
      if (der !== null) {
        const cert = parseCertificate(der);
        key.kind =
          merchantIdentifierHash(cert) !== null && merchantCertificateKind(cert) === 'merchant-identity'
            ? 'merchant-identity'
            : 'payment-processing';
        key.merchantIdentifier = subjectUserId(cert);
        key.publicKeyHash = sha256b64(cert.spki);
        key.notAfter = cert.notAfter;
      }
    } catch (err) {
      if (!(err instanceof CertificateError)) throw err;
    }
  } else if (typeof entry.merchantIdentifier === 'string') {
    key.merchantIdentifier = entry.merchantIdentifier;
  }
  // The verifier is the judge of each entry: it reads PKCS#12 and every key format the library takes.
  try {
    const [info] = createVerifier({ merchants: [entry], ...(root === undefined ? {} : { rootCertificate: root }) }).merchantKeys();
    if (info !== undefined) {
      key.publicKeyHash = info.publicKeyHash;
      key.notAfter = info.notAfter;
      if (info.merchantIdentifier !== null) key.merchantIdentifier = info.merchantIdentifier;
      if (entry.certificate === undefined && info.notAfter !== null) key.kind = 'payment-processing';
    }
  } catch (err) {
    const e = toApplePayError(err);
    key.problem = { code: e.code, message: e.message.replace(/^merchants\[0\]/, `merchants[${index}]`) };
  }
  key.matchesToken = tokenHash !== null && key.publicKeyHash === tokenHash;
  return key;
}

function list(keys: readonly ConfiguredKey[]): string {
  const hashes = keys.map((k) => k.publicKeyHash ?? '(unreadable)');
  return hashes.length === 1 ? hashes[0]! : `${hashes.slice(0, -1).join(', ')} and ${hashes[hashes.length - 1]}`;
}

function conclude(d: Omit<Diagnosis, 'conclusion'>, maxAgeMs: number): string {
  const t = d.token;
  const env = t?.environment ?? null;
  const hash = t?.publicKeyHash ?? '(unknown)';
  const failure = d.verification !== undefined && !d.verification.ok ? d.verification : null;
  switch (d.cause) {
    case 'verified': {
      const note = env === 'sandbox' ? ' It is a sandbox token: a production server should refuse those (acceptSandbox: false).' : '';
      return `The token is genuine (${env ?? 'unknown'} environment) and decrypts with configured key #${d.keys.find((k) => k.matchesToken)?.index ?? '?'}.${note}`;
    }
    case 'genuine': {
      const ageNote =
        t?.ageMs !== null && t?.ageMs !== undefined && t.ageMs > maxAgeMs
          ? ` It was signed ${Math.round(t.ageMs / 1000)} s before the given time, so a live verifier would now refuse it as too old.`
          : '';
      return `The signature and the certificate chain are valid (${env ?? 'unknown'} environment). It was encrypted for the key with publicKeyHash ${hash}; give --cert/--key to check a key against it.${ageNote}`;
    }
    case 'malformed-token':
      return `The token is not what Apple sends (${failure?.code ?? t?.signature.code ?? 'unreadable'}: ${failure?.message ?? t?.signature.message ?? ''}). Forward the paymentData object exactly as Apple Pay JS or PassKit returned it: not re-encoded, trimmed or truncated.`;
    case 'unsupported-version':
      return `The token's version is not one this verifier accepts (${failure?.message ?? ''}). Enable it in the versions option, or upgrade if Apple introduced a new version.`;
    case 'tampered':
      return `The signature does not cover the token as received (${failure?.code ?? t?.signature.code}: ${failure?.message ?? t?.signature.message ?? ''}): a field was changed after Apple signed it, or the token is forged. Reject it; if it happens to every token, check that nothing between the device and this server rewrites the JSON.`;
    case 'untrusted-signer': {
      const why = failure?.message ?? t?.chain.message ?? '';
      const name =
        t?.leaf?.subject === null || t?.leaf === null || t === null ? '' : ` (signed by "${t.leaf.subject}", issued by "${t.leaf.issuer}")`;
      const testHint =
        t?.appleRoot === true
          ? " A token from a test PKI or Apple's internal test CA never chains to Apple's root; in tests, configure the test root with --root."
          : '';
      return `The token's certificates do not lead to the trusted root${name}: ${why}.${testHint} Otherwise the token is forged: reject it.`;
    }
    case 'certificate-expired': {
      const which =
        t?.leaf?.validAtSigningTime === false
          ? 'the signing leaf'
          : t?.intermediate?.validAtSigningTime === false
            ? 'the intermediate'
            : 'a certificate of the chain';
      return `${which[0]!.toUpperCase()}${which.slice(1)} was not valid at the token's signing time (${t?.signingTime?.toISOString() ?? 'unknown'}). Apple rotates its signing certificates; a token signed outside their validity is not genuine or was signed by a misconfigured device clock. Reject it.`;
    }
    case 'too-old':
      return `The token was signed at ${t?.signingTime?.toISOString() ?? 'an unknown time'}, ${t?.ageMs === null || t?.ageMs === undefined ? '?' : Math.round(t.ageMs / 1000)} s before the verification time: older than the allowed window. It was stored, delayed or replayed; ask the customer to pay again. If every token fails so, check the server's clock (NTP). To examine a stored token, give a verification time shortly after its signing time (--now).`;
    case 'signed-in-future':
      return `The token's signing time (${t?.signingTime?.toISOString() ?? 'unknown'}) lies ahead of the verification time by more than the allowed skew: this server's clock is behind. Fix time synchronisation (NTP).`;
    case 'sandbox-refused':
      return `The token was signed by Apple's sandbox leaf ("${t?.leaf?.subject ?? 'SANDBOX'}"): it comes from a sandbox tester account or a device signed in to the sandbox, and this verifier accepts production tokens only. Pay with a real card on a production Apple account; keep sandbox tokens for a test server.`;
    case 'other-certificate': {
      const sandbox =
        env === 'sandbox'
          ? ' It is a sandbox token: sandbox merchants usually have their own Payment Processing certificate, so configure that one on a test server.'
          : '';
      const signed = t?.signingTime ?? null;
      const expired = d.keys.filter((k) => k.notAfter !== null && signed !== null && k.notAfter.getTime() < signed.getTime());
      const expiredNote =
        expired.length === 0
          ? ''
          : ` Configured certificate ${expired.map((k) => `#${k.index}`).join(', ')} had expired before the token was signed: Apple encrypts to the merchant's active certificate, so configure the one that replaced it.`;
      return `This token was encrypted for the key with publicKeyHash ${hash}; you configured ${list(d.keys)}.${expiredNote} It was made for another Payment Processing certificate: another merchant identifier, a sandbox merchant, or a certificate activated on Apple's side (a renewal) that is not configured here yet.${sandbox} Configure the certificate and key whose hash is ${hash} (applepay-verify keys check prints each key's hash); during a renewal configure both old and new.`;
    }
    case 'merchant-identity-certificate': {
      const bad = d.keys
        .filter((k) => k.kind === 'merchant-identity')
        .map((k) => `#${k.index}`)
        .join(', ');
      return `Configured certificate ${bad} ${MERCHANT_IDENTITY_MESSAGE}. This token was encrypted for the key with publicKeyHash ${hash}.`;
    }
    case 'key-mismatch':
      return `The configured key whose certificate's hash is ${hash} does not decrypt the token (${failure?.message ?? ''}). Either that certificate is paired with another key (check the pair with applepay-verify keys check), the merchant identifier given does not match the certificate the token was encrypted for, or the token's encrypted data was changed. Reject the token and check the key files.`;
    case 'replay':
      return `This transactionId (${t?.transactionId ?? ''}) has already been accepted: the same token was submitted twice (a retry or a replay). Do not charge again; answer with the outcome of the first attempt.`;
    case 'replay-store-unavailable':
      return `The replay store did not answer, so the token was not accepted. It can be accepted once the store is back: retry later.`;
    case 'configuration': {
      const problem =
        d.keys.find((k) => k.problem !== undefined)?.problem ??
        (failure === null ? undefined : { code: failure.code, message: failure.message });
      return `The configuration is wrong, not the token: ${problem === undefined ? 'see the verification error' : `${problem.code}: ${problem.message}`}. Fix it and diagnose again.`;
    }
    case 'internal':
      return 'An internal fault, not a verdict on the token: retry, and report it if it persists.';
  }
}

/**
 * Explains one token. Never decrypts without keys; never throws for a bad token or configuration:
 * every failure is a cause in the result.
 */
export async function diagnoseToken(token: unknown, options: DiagnoseOptions = {}): Promise<Diagnosis> {
  const now = options.now ?? new Date();
  const entries: MerchantOptions[] =
    options.merchants === undefined
      ? []
      : Array.isArray(options.merchants)
        ? [...(options.merchants as readonly MerchantOptions[])]
        : [options.merchants as MerchantOptions];
  const maxAgeMs = (options.verifier?.maxSignatureAge ?? 300) * 1000;
  const skewMs = (options.verifier?.maxClockSkew ?? 60) * 1000;

  let facts: TokenFacts | null = null;
  let readError: ApplePayError | null = null;
  try {
    facts = inspectToken(token, { now, ...(options.rootCertificate === undefined ? {} : { rootCertificate: options.rootCertificate }) });
  } catch (err) {
    readError = toApplePayError(err);
  }
  const keys = entries.map((e, i) => describeEntry(e, i, facts?.publicKeyHash ?? null, options.rootCertificate));

  const base: Omit<Diagnosis, 'conclusion'> = { token: facts, keys, cause: 'genuine' };
  if (readError !== null) {
    base.verification = { ok: false, code: readError.code, message: readError.message };
  } else if (options.merchants !== undefined) {
    try {
      const verifier = createVerifier({
        ...(options.verifier ?? {}),
        merchants: entries,
        ...(options.rootCertificate === undefined ? {} : { rootCertificate: options.rootCertificate }),
      });
      await verifier.verifyAndDecrypt(token, { now });
      base.verification = { ok: true };
    } catch (err) {
      const e = toApplePayError(err);
      base.verification = { ok: false, code: e.code, message: e.message };
    }
  }

  if (keys.some((k) => k.kind === 'merchant-identity')) {
    base.cause = 'merchant-identity-certificate';
  } else if (base.verification !== undefined) {
    base.cause = base.verification.ok ? 'verified' : causeOf(base.verification.code);
  } else if (facts !== null) {
    base.cause = tokenOnlyCause(facts, maxAgeMs, skewMs, options.verifier?.acceptSandbox === false);
  }
  return { ...base, conclusion: conclude(base, maxAgeMs) };
}

function tokenOnlyCause(t: TokenFacts, maxAgeMs: number, skewMs: number, refuseSandbox: boolean): DiagnosisCause {
  if (!t.chain.ok) return t.chain.code === undefined ? 'malformed-token' : causeOf(t.chain.code);
  if (!t.signature.ok) return t.signature.code === undefined ? 'tampered' : causeOf(t.signature.code);
  if (refuseSandbox && t.leafEnvironment === 'sandbox') return 'sandbox-refused';
  if (t.ageMs !== null && t.ageMs > maxAgeMs) return 'too-old';
  if (t.ageMs !== null && -t.ageMs > skewMs) return 'signed-in-future';
  return 'genuine';
}
