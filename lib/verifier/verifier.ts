// The public API of applepay-verify.
import { APPLE_AAI_CA_G3, APPLE_ROOT_CA_G3, APPLE_ROOT_CA_G3_FINGERPRINT } from '../x509/apple-roots.js';
import { CertificateError, certificateDer, parseCertificate, type ParsedCertificate } from '../x509/certificates.js';
import { ChainValidator, DEFAULT_CHAIN_CACHE_SIZE } from '../steps/chain.js';
import { currentLastError, openScope, recordFailure, type LastError } from './last-error.js';
import { ApplePayError, toApplePayError } from '../errors.js';
import { indexMerchants, loadMerchant, type Merchant, type MerchantOptions } from '../steps/merchant-key.js';
import { DEFAULT_TOKEN_LIMITS, TOKEN_VERSIONS, type TokenVersion } from '../steps/token.js';
import { startTimer, type StepTimer } from './diagnostics.js';
import type { ReplayGuard } from '../replay/guard.js';
import { ReplayClaims } from '../replay/claims.js';
import { verifyToken, verifyTokenSync, type VerifierState, type Result } from '../pipeline/verify.js';
import { PoolGate } from '../pipeline/pool-gate.js';
import { describeMerchantKeys, type MerchantKeyInfo } from '../keys/merchant-keys.js';

export interface VerifierOptions {
  /** One merchant, or several during key rotation (each token names its key by publicKeyHash). */
  merchants: MerchantOptions | readonly MerchantOptions[];
  /** Trust anchor, PEM or DER. Default: Apple Root CA - G3, bundled and pinned by fingerprint. */
  rootCertificate?: string | Uint8Array;
  /** Seconds a signature may be old when it arrives. Default 300, Apple's five minutes. */
  maxSignatureAge?: number;
  /** Seconds a signing time may lie ahead of the server's clock. Default 60. */
  maxClockSkew?: number;
  /** Versions accepted. Default both. */
  versions?: readonly TokenVersion[];
  /** The current time; inject it for tests and for replaying stored tokens. */
  clock?: () => Date;
  /** Largest token accepted, in bytes. Default 65536. */
  maxTokenBytes?: number;
  /** Most distinct certificate sets remembered after validation, and as many leaf keys. Default 64. */
  chainCacheSize?: number;
  /**
   * Intermediates (PEM or DER) to check against the root now, so the first token does not pay for it.
   * Default: Apple Application Integration CA - G3 when the root is the bundled Apple root, else none.
   * Tokens are still checked against the intermediate they carry.
   */
  intermediates?: readonly (string | Uint8Array)[];
  /**
   * Claims each transactionId after the token has fully verified and decrypted; a second claim fails
   * with REPLAY_DETECTED, a failing store with REPLAY_STORE_UNAVAILABLE. Async API only.
   */
  replayGuard?: ReplayGuard;
  /**
   * Accept tokens signed by Apple's sandbox leaf. Default true, so nothing breaks; set false on a
   * production server so that a sandbox token fails with SANDBOX_TOKEN_REFUSED instead of
   * MERCHANT_KEY_NOT_FOUND or a decryption failure. Judged by the signing leaf's name, under any root.
   */
  acceptSandbox?: boolean;
  /**
   * Seconds a claim is kept at least. Default 86400 (24 h), far beyond the freshness window, so that
   * a fleet host whose clock is wrong by less than this cannot accept a token again. At least
   * maxSignatureAge + 2 x maxClockSkew, at most 31 days.
   */
  replayRetention?: number;
  /** Seconds a claim may wait for the replay store before failing closed (REPLAY_STORE_UNAVAILABLE). Default 1. */
  replayTimeout?: number;
  /**
   * Keep lastError() per async context (default false). On Node 20 this turns on promise hooks for
   * the whole process once the first verification runs, which makes every `await` in the
   * application two to three times slower; without it, failures are only thrown (as ever) and
   * lastError() returns null.
   */
  trackLastError?: boolean;
  /**
   * How many of this verifier's token operations may occupy libuv's thread pool at once; the rest
   * wait in arrival order. Default: no bound of its own (libuv's pool, 4 threads unless
   * UV_THREADPOOL_SIZE says otherwise, is the bound). Set it to keep pool threads free for the
   * application's file system, DNS and other crypto work under a burst of verifications.
   */
  maxPoolJobs?: number;
}

export interface VerifyOptions {
  /** Verification instant for this token, instead of the verifier's clock. */
  now?: Date;
}

export interface Verifier {
  /** Verifies and decrypts; resolves with the payment or rejects with an ApplePayError. */
  verifyAndDecrypt(token: unknown, options?: VerifyOptions): Promise<Result>;
  /** The same, on the calling thread: for scripts and workers that gain nothing from the thread pool. */
  verifyAndDecryptSync(token: unknown, options?: VerifyOptions): Result;
  /**
   * The failure of this verifier's latest verification in the current async context, or null. Needs
   * the `trackLastError` option; always null without it.
   */
  lastError(): LastError | null;
  /**
   * Each configured merchant key, in configuration order: merchant identifier hash, publicKeyHash, expiry
   * and when it last decrypted a token for this verifier (null: not since it was created). During a
   * renewal, the old key can be retired once its lastUsed stops moving.
   */
  merchantKeys(): MerchantKeyInfo[];
  /**
   * Gives back the replay claim this verifier made for an accepted token, for a caller whose charge
   * failed afterwards, so that the customer's retry is accepted. Compare-and-delete: only this
   * verifier's own claim is removed. Resolves true when released, false when it holds no claim of
   * that id (never accepted here, already released, or older than replayRetention / 15 minutes).
   */
  release(transactionId: string): Promise<boolean>;
}

const KNOWN_OPTIONS = new Set([
  'merchants',
  'rootCertificate',
  'maxSignatureAge',
  'maxClockSkew',
  'versions',
  'clock',
  'maxTokenBytes',
  'chainCacheSize',
  'intermediates',
  'trackLastError',
  'maxPoolJobs',
  'replayGuard',
  'acceptSandbox',
  'replayRetention',
  'replayTimeout',
]);
const KNOWN_MERCHANT_OPTIONS = new Set(['certificate', 'privateKey', 'passphrase', 'merchantIdentifier']);

function configError(message: string, field: string): ApplePayError {
  return new ApplePayError('CONFIG_INVALID', message, { field });
}

function seconds(value: unknown, fallback: number, field: string): number {
  if (value === undefined) return fallback * 1000;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 31 * 24 * 3600) {
    throw configError(`${field} must be a number of seconds between 0 and 31 days`, field);
  }
  return value * 1000;
}

function positiveInteger(value: unknown, fallback: number, max: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw configError(`${field} must be an integer from 1 to ${max}`, field);
  }
  return value;
}

function loadRoot(input: unknown): ParsedCertificate {
  const pinned = input === undefined;
  const source = pinned ? APPLE_ROOT_CA_G3 : input;
  if (typeof source !== 'string' && !(source instanceof Uint8Array)) {
    throw configError('rootCertificate must be a PEM string or DER bytes', 'rootCertificate');
  }
  const der = certificateDer(source);
  if (der === null)
    throw new ApplePayError('ROOT_CERT_INVALID', 'rootCertificate is not one PEM or DER certificate', {
      field: 'rootCertificate',
      certificate: 'root',
    });
  let root: ParsedCertificate;
  try {
    root = parseCertificate(der);
  } catch (err) {
    if (err instanceof CertificateError) {
      throw new ApplePayError('ROOT_CERT_INVALID', `rootCertificate is invalid: ${err.message}`, {
        field: 'rootCertificate',
        certificate: 'root',
      });
    }
    throw err;
  }
  if (pinned && root.fingerprint !== APPLE_ROOT_CA_G3_FINGERPRINT) {
    throw new ApplePayError('ROOT_CERT_INVALID', 'the bundled Apple root does not match its pinned fingerprint', { certificate: 'root' });
  }
  if (!root.isCA || !root.subject.equals(root.issuer)) {
    throw new ApplePayError('ROOT_CERT_INVALID', 'rootCertificate is not a self-signed CA certificate', {
      field: 'rootCertificate',
      certificate: 'root',
    });
  }
  return root;
}

function loadMerchants(input: unknown): Merchant[] {
  const list: unknown[] = Array.isArray(input) ? input : input === undefined ? [] : [input];
  if (list.length === 0) throw configError('merchants must name at least one merchant', 'merchants');
  if (list.length > 64) throw configError('merchants holds more than 64 entries', 'merchants');
  return list.map((entry, index) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw configError(`merchants[${index}] must be an object`, `merchants[${index}]`);
    }
    for (const key of Object.keys(entry)) {
      if (!KNOWN_MERCHANT_OPTIONS.has(key))
        throw configError(`merchants[${index}] has an unknown option ${JSON.stringify(key)}`, `merchants[${index}].${key}`);
    }
    const options = entry as MerchantOptions;
    if (options.privateKey === undefined) throw configError(`merchants[${index}].privateKey is required`, `merchants[${index}].privateKey`);
    return loadMerchant(options, index);
  });
}

function prevalidateIntermediates(chains: ChainValidator, input: unknown, bundledRoot: boolean): void {
  if (input === undefined) {
    // The bundled intermediate expires in 2029; failing here would break a boot for no token's sake.
    if (bundledRoot) chains.prevalidateIntermediate(certificateDer(APPLE_AAI_CA_G3)!);
    return;
  }
  if (!Array.isArray(input)) throw configError('intermediates must be a list of certificates', 'intermediates');
  input.forEach((entry: unknown, index) => {
    const der = typeof entry === 'string' || entry instanceof Uint8Array ? certificateDer(entry) : null;
    if (der === null || !chains.prevalidateIntermediate(der)) {
      throw configError(`intermediates[${index}] is not a marked intermediate issued by the root`, `intermediates[${index}]`);
    }
  });
}

class ApplePayVerifier implements Verifier {
  readonly #state: VerifierState;
  readonly #clock: () => Date;
  /** merchantIdentifier options by configuration index, for merchantKeys() when no certificate names it. */
  readonly #identifiers: ReadonlyMap<number, string>;
  readonly #replayClaims: ReplayClaims | null;
  readonly #trackLastError: boolean;

  constructor(options: VerifierOptions) {
    if (typeof options !== 'object' || options === null) throw configError('options must be an object', 'options');
    for (const key of Object.keys(options)) {
      if (!KNOWN_OPTIONS.has(key)) throw configError(`unknown option ${JSON.stringify(key)}`, key);
    }
    const clock = options.clock ?? (() => new Date());
    if (typeof clock !== 'function') throw configError('clock must be a function returning a Date', 'clock');

    const versions = options.versions ?? TOKEN_VERSIONS;
    if (!Array.isArray(versions) || versions.length === 0 || !versions.every((v) => (TOKEN_VERSIONS as readonly unknown[]).includes(v))) {
      throw configError('versions must be a non-empty list of "EC_v1" and "RSA_v1"', 'versions');
    }
    const maxTokenBytes = positiveInteger(options.maxTokenBytes, DEFAULT_TOKEN_LIMITS.maxTokenBytes, 1024 * 1024, 'maxTokenBytes');
    const chainCacheSize = positiveInteger(options.chainCacheSize, DEFAULT_CHAIN_CACHE_SIZE, 4096, 'chainCacheSize');
    const maxSignatureAge = seconds(options.maxSignatureAge, 300, 'maxSignatureAge');
    const maxClockSkew = seconds(options.maxClockSkew, 60, 'maxClockSkew');

    const root = loadRoot(options.rootCertificate);
    const merchants = indexMerchants(loadMerchants(options.merchants));
    const chains = new ChainValidator(root, chainCacheSize);
    prevalidateIntermediates(chains, options.intermediates, options.rootCertificate === undefined);
    const replayGuard = options.replayGuard ?? null;
    if (
      replayGuard !== null &&
      (typeof replayGuard !== 'object' ||
        (typeof replayGuard.acquire !== 'function' && typeof replayGuard.claim !== 'function') ||
        (replayGuard.release !== undefined && typeof replayGuard.release !== 'function'))
    ) {
      throw configError('replayGuard must have an acquire(transactionId, ttlMs, owner) method (or the older claim)', 'replayGuard');
    }
    if (options.acceptSandbox !== undefined && typeof options.acceptSandbox !== 'boolean') {
      throw configError('acceptSandbox must be true or false', 'acceptSandbox');
    }
    const replayRetention = seconds(options.replayRetention, 86_400, 'replayRetention');
    if (replayRetention < maxSignatureAge + 2 * maxClockSkew || replayRetention < 1000) {
      throw configError('replayRetention must be at least maxSignatureAge + 2 x maxClockSkew (and 1 second)', 'replayRetention');
    }
    const replayTimeout = options.replayTimeout ?? 1;
    if (typeof replayTimeout !== 'number' || !Number.isFinite(replayTimeout) || replayTimeout < 0.001 || replayTimeout > 60) {
      throw configError('replayTimeout must be a number of seconds from 0.001 to 60', 'replayTimeout');
    }
    const replayClaims =
      replayGuard === null
        ? null
        : new ReplayClaims(replayGuard, { timeoutMs: replayTimeout * 1000, releaseWindowMs: Math.min(replayRetention, 15 * 60_000) });
    this.#replayClaims = replayClaims;
    this.#clock = clock;
    this.#identifiers = new Map(
      [options.merchants].flat().flatMap((m, i) => (typeof m?.merchantIdentifier === 'string' ? [[i, m.merchantIdentifier] as const] : [])),
    );
    const trackLastError = options.trackLastError ?? false;
    if (typeof trackLastError !== 'boolean') throw configError('trackLastError must be a boolean', 'trackLastError');
    this.#trackLastError = trackLastError;
    const maxPoolJobs = positiveInteger(options.maxPoolJobs, Number.POSITIVE_INFINITY, 1024, 'maxPoolJobs');
    this.#state = {
      poolGate: new PoolGate(maxPoolJobs),
      refuseSandbox: options.acceptSandbox === false,
      lastUsed: new Map(),
      chains,
      replayGuard,
      replayClaims,
      replayRetention,
      merchants,
      versions: new Set(versions),
      limits: { ...DEFAULT_TOKEN_LIMITS, maxTokenBytes },
      maxSignatureAge,
      maxClockSkew,
    };
  }

  #now(options: VerifyOptions | undefined): Date {
    const now = options?.now ?? this.#clock();
    if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
      throw configError('the verification time must be a valid Date', options?.now !== undefined ? 'now' : 'clock');
    }
    return now;
  }

  async verifyAndDecrypt(token: unknown, options?: VerifyOptions): Promise<Result> {
    const scope = openScope(this, this.#trackLastError);
    const timer = startTimer();
    try {
      const result = await verifyToken(this.#state, token, this.#now(options), timer);
      timer?.publish('OK');
      return result;
    } catch (err) {
      throw fail(scope, timer, err);
    }
  }

  verifyAndDecryptSync(token: unknown, options?: VerifyOptions): Result {
    const scope = openScope(this, this.#trackLastError);
    const timer = startTimer();
    try {
      const result = verifyTokenSync(this.#state, token, this.#now(options), timer);
      timer?.publish('OK');
      return result;
    } catch (err) {
      throw fail(scope, timer, err);
    }
  }

  lastError(): LastError | null {
    return currentLastError(this);
  }

  merchantKeys(): MerchantKeyInfo[] {
    return describeMerchantKeys(this.#state.merchants, this.#state.lastUsed!, this.#identifiers);
  }

  release(transactionId: string): Promise<boolean> {
    if (typeof transactionId !== 'string' || !/^[0-9a-fA-F]{1,128}$/.test(transactionId)) {
      return Promise.reject(configError('release needs the transactionId of an accepted token (hex)', 'transactionId'));
    }
    if (this.#replayClaims === null) return Promise.resolve(false);
    return this.#replayClaims.release(transactionId);
  }
}

function fail(scope: ReturnType<typeof openScope>, timer: StepTimer | null, err: unknown): ApplePayError {
  const failure = toApplePayError(err);
  recordFailure(scope, failure);
  timer?.publish(failure.code);
  return failure;
}

/** Builds a verifier; every option is checked now, so a misconfigured server fails at boot. */
export function createVerifier(options: VerifierOptions): Verifier {
  try {
    return new ApplePayVerifier(options);
  } catch (err) {
    // A fault below the checks (the addon, pkijs on an odd certificate) is no configuration verdict,
    // but the caller still gets an ApplePayError (INTERNAL), as on the verification path.
    throw toApplePayError(err);
  }
}

/** One token, one call: for scripts. A server should create its verifier once. */
export async function verifyAndDecrypt(token: unknown, options: VerifierOptions & VerifyOptions): Promise<Result> {
  const { now, ...verifierOptions } = options;
  const scope = openScope(verifyAndDecrypt, options.trackLastError === true);
  let verifier: Verifier;
  try {
    verifier = createVerifier(verifierOptions);
  } catch (err) {
    throw fail(scope, null, err);
  }
  return verifier.verifyAndDecrypt(token, now === undefined ? {} : { now });
}

/**
 * The failure of the latest verification in the current async context, or null if it succeeded, by
 * a verifier created with `trackLastError: true` (null for all others).
 */
export function lastError(): LastError | null {
  return currentLastError();
}
