// The whole procedure of Apple's token format (docs/token-format.md), top to bottom, in Apple's order:
// nothing is decrypted before the signature, the chain and the signing time have passed, and a
// transactionId is claimed against replay only after everything else has passed.
//
// One path for both APIs: plan (synchronous: everything up to the public-key work, a freshness or
// merchant refusal recorded, not thrown) and run (the addon's one token operation: the signature,
// then the decryption unless a refusal is pending). The run step is the only place sync and async
// differ; the addon holds the other half of the order (never decrypt behind an unchecked signature).
import type { Chain, ChainValidator } from '../steps/chain.js';
import { parseSignedData, type SignerInfo } from '../steps/signed-data.js';
import { callToken, mapNativeError, settle } from '../steps/decrypt.js';
import type { Environment } from '../verifier/environment.js';
import { ApplePayError } from '../errors.js';
import type { Merchant } from '../steps/merchant-key.js';
import type { StepTimer } from '../verifier/diagnostics.js';
import type { PoolGate } from './pool-gate.js';
import { parsePayment, type Payment } from '../steps/payment.js';
import type { ReplayGuard } from '../replay/guard.js';
import type { ReplayClaims } from '../replay/claims.js';
import { checkSignerIsLeaf, freshnessProblem, type FreshnessPolicy } from '../steps/signer.js';
import { parseToken, type ParsedToken, type TokenLimits, type TokenVersion } from '../steps/token.js';

/** What a verifier holds across verifications: its configuration, the chain cache and the replay store. */
export interface VerifierState extends FreshnessPolicy {
  readonly chains: ChainValidator;
  readonly merchants: ReadonlyMap<string, Merchant>;
  readonly versions: ReadonlySet<TokenVersion>;
  readonly limits: TokenLimits;
  readonly replayGuard: ReplayGuard | null;
  /** Refuse tokens signed by Apple's sandbox leaf (acceptSandbox: false). */
  readonly refuseSandbox?: boolean;
  /** When each configured key last decrypted a token: this verifier's own record, for merchantKeys(). */
  readonly lastUsed?: Map<Merchant, Date>;
  readonly replayClaims: ReplayClaims | null;
  /** The shortest time a claim is kept, in ms (replayRetention). */
  readonly replayRetention: number;
  /** Bounds this verifier's token operations on the thread pool (maxPoolJobs). */
  readonly poolGate: PoolGate;
}

export interface Result {
  version: TokenVersion;
  /** Lower-case hex. Without a replayGuard, the caller must not credit the same transactionId twice. */
  transactionId: string;
  signingTime: Date;
  /** Lower-case hex SHA-256 of the merchant's applicationData, when the token carries one. */
  applicationData?: string;
  /** Lower-case hex SHA-256 of the merchant identifier the token was encrypted for. */
  merchantIdentifierHash: string;
  /** Base64, as in the token's header. */
  publicKeyHash: string;
  /** Who signed it: Apple's production or sandbox leaf, or 'test' for a chain to a root other than Apple's. */
  environment: Environment;
  payment: Payment;
}

/**
 * Everything decided before the public-key work. `merchant` is null exactly when `refusal` is set:
 * the run step then has the addon check the signature and, if it verifies, throws the refusal.
 */
export interface Plan {
  readonly token: ParsedToken;
  readonly signer: SignerInfo;
  readonly chain: Chain;
  readonly merchant: Merchant | null;
  readonly refusal: ApplePayError | null;
}

// The plan step, synchronous for both APIs: parse, read the CMS, check the chain and the signer,
// then freshness and the merchant key. Failures up to the signer throw here; a failure of freshness
// or of the merchant key is only recorded, because Apple checks the signature first.
function plan(state: VerifierState, input: unknown, now: Date, timer: StepTimer | null): Plan {
  const token = parseToken(input, state.limits);
  if (timer !== null) timer.version = token.version;
  if (!state.versions.has(token.version)) {
    throw new ApplePayError('UNSUPPORTED_VERSION', `token version ${token.version} is not enabled`, { field: 'version' });
  }
  const { certificates, signer } = parseSignedData(token.signature, token.version);
  timer?.step('parse');
  const chain = state.chains.validate(certificates, token.version, signer.signingTime);
  timer?.step('chain');
  if (timer !== null) {
    timer.publicKeyHash = token.publicKeyHashText;
    timer.environment = chain.environment;
  }
  // The messageDigest over the signed content is checked by the native token operation, first (a
  // mismatch outranks everything decided below, as it did when it was checked here).
  checkSignerIsLeaf(signer, chain);
  const next = chooseMerchant(state, token, signer, chain, now);
  return next instanceof ApplePayError
    ? { token, signer, chain, merchant: null, refusal: next }
    : { token, signer, chain, merchant: next, refusal: null };
}

// The environment the verifier accepts, step 2.8 (freshness) and step 3 (the merchant key that
// publicKeyHash names, of the type the version needs): the merchant to decrypt for, or the refusal
// to give once the signature verified.
function chooseMerchant(state: VerifierState, token: ParsedToken, signer: SignerInfo, chain: Chain, now: Date): Merchant | ApplePayError {
  // By the leaf's name, under any root, so that a test PKI can exercise the refusal too.
  if (state.refuseSandbox === true && chain.leafEnvironment === 'sandbox') {
    return new ApplePayError(
      'SANDBOX_TOKEN_REFUSED',
      "the token was signed by Apple's sandbox leaf and this verifier accepts production tokens only",
      { certificate: 'leaf' },
    );
  }
  const stale = freshnessProblem(signer.signingTime, now, state);
  if (stale !== null) return stale;
  const merchant = state.merchants.get(token.publicKeyHashText);
  if (merchant === undefined || merchant.version !== token.version) {
    return new ApplePayError(
      'MERCHANT_KEY_NOT_FOUND',
      merchant === undefined
        ? "the token's publicKeyHash matches no configured merchant certificate"
        : `the merchant key named by publicKeyHash cannot decrypt ${token.version} tokens`,
      { field: 'header.publicKeyHash' },
    );
  }
  return merchant;
}

// The run step: one native token operation (signature, then decryption unless a refusal is pending),
// inline or on the thread pool. These two functions are the only place the APIs differ.
function runSync(p: Plan, timer: StepTimer | null): Buffer {
  let out: unknown;
  try {
    out = callToken(p, false, timer?.phases ?? null);
  } catch (err) {
    throw mapNativeError(err);
  }
  timer?.native(p.refusal !== null);
  return settle(out, p.refusal);
}

async function runAsync(p: Plan, timer: StepTimer | null, gate: PoolGate): Promise<Buffer> {
  let out: unknown;
  try {
    out = await gate.run(() => callToken(p, true, timer?.phases ?? null) as Promise<unknown>);
  } catch (err) {
    throw mapNativeError(err);
  }
  timer?.native(p.refusal !== null);
  return settle(out, p.refusal);
}

function finish(state: VerifierState, p: Plan, plaintext: Buffer, timer: StepTimer | null, now: Date): Result {
  const { token, signer } = p;
  const merchant = p.merchant!;
  // The latest verification instant: a stored token replayed with an old `now` must not turn it back.
  const used = state.lastUsed?.get(merchant);
  if (used === undefined || used.getTime() < now.getTime()) state.lastUsed?.set(merchant, now);
  let payment: Payment;
  try {
    payment = parsePayment(plaintext);
  } finally {
    plaintext.fill(0);
  }
  timer?.step('payment');
  const result: Result = {
    version: token.version,
    transactionId: token.transactionId,
    signingTime: signer.signingTime,
    merchantIdentifierHash: merchant.partyV.toString('hex'),
    publicKeyHash: token.publicKeyHashText,
    environment: p.chain.environment,
    payment,
  };
  if (token.applicationData !== undefined) result.applicationData = token.applicationData;
  return result;
}

export function verifyTokenSync(state: VerifierState, input: unknown, now: Date, timer: StepTimer | null): Result {
  if (state.replayGuard !== null) {
    throw new ApplePayError('CONFIG_INVALID', 'a verifier with a replayGuard must use the asynchronous verifyAndDecrypt', {
      field: 'replayGuard',
    });
  }
  const p = plan(state, input, now, timer);
  return finish(state, p, runSync(p, timer), timer, now);
}

export async function verifyToken(state: VerifierState, input: unknown, now: Date, timer: StepTimer | null): Promise<Result> {
  const p = plan(state, input, now, timer);
  const result = finish(state, p, await runAsync(p, timer, state.poolGate), timer, now);
  if (state.replayClaims !== null) {
    // Last, so that a forged or broken token can never use up a genuine transactionId. The claim's
    // lifetime is a duration from the same instant the freshness was judged by (`now`), so an injected
    // clock or a per-call `now` cannot open a second window; the store counts it on its own clock. It
    // lasts at least replayRetention, far beyond the window, so a fleet host whose clock is off by less
    // than that cannot see a token as fresh after its claim is gone.
    const windowLeft = p.signer.signingTime.getTime() + state.maxSignatureAge + state.maxClockSkew - now.getTime();
    await state.replayClaims.claim(p.token.transactionId, Math.max(state.replayRetention, Math.ceil(windowLeft)));
    timer?.step('replay');
  }
  return result;
}
