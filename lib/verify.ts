// The whole procedure of Apple's "Payment Token Format Reference", top to bottom, in Apple's order:
// nothing is decrypted before the signature, the chain and the signing time have passed, and a
// transactionId is claimed against replay only after everything else has passed.
import type { Chain, ChainValidator } from './chain.js';
import { parseSignedData, type SignerInfo } from './cms.js';
import { decryptAsync, decryptSync } from './decrypt.js';
import { chainEnvironment, leafEnvironment, type Environment } from './environment.js';
import { ApplePayError } from './errors.js';
import type { Merchant } from './merchant.js';
import type { StepTimer } from './observe.js';
import { parsePayment, type Payment } from './payment.js';
import type { ReplayGuard } from './replay.js';
import type { ReplayClaims } from './replay-claims.js';
import { checkSigner, freshnessProblem, verifySignerAsync, verifySignerSync, type FreshnessPolicy } from './signature.js';
import { parseToken, signedContent, type ParsedToken, type TokenLimits, type TokenVersion } from './token.js';

export interface Policy extends FreshnessPolicy {
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

interface Checked {
  readonly token: ParsedToken;
  readonly signer: SignerInfo;
  readonly chain: Chain;
}

// Steps 1-2 up to the public-key operation: parse, read the CMS, check the chain, check the signer.
function checkUntilSignature(policy: Policy, input: unknown, timer: StepTimer | null): Checked {
  const token = parseToken(input, policy.limits);
  if (timer !== null) timer.version = token.version;
  if (!policy.versions.has(token.version)) {
    throw new ApplePayError('UNSUPPORTED_VERSION', `token version ${token.version} is not enabled`, { field: 'version' });
  }
  const { certificates, signer } = parseSignedData(token.signature, token.version);
  timer?.step('parse');
  const chain = policy.chains.validate(certificates, token.version, signer.signingTime);
  timer?.step('chain');
  if (timer !== null) {
    timer.publicKeyHash = token.publicKeyHash.toString('base64');
    timer.environment = chainEnvironment(chain);
  }
  checkSigner(signer, chain, signedContent(token));
  return { token, signer, chain };
}

// Step 2.8 (freshness) and step 3 (the merchant key that publicKeyHash names, of the type the version
// needs), decided before the public-key work so the addon can verify and decrypt in one call. Apple
// checks the signature first: a failure here is returned, and thrown only once the signature verified.
function nextStep(policy: Policy, { token, signer, chain }: Checked, now: Date): Merchant | ApplePayError {
  // By the leaf's name, under any root, so that a test PKI can exercise the refusal too.
  if (policy.refuseSandbox === true && leafEnvironment(chain.leaf) === 'sandbox') {
    return new ApplePayError(
      'SANDBOX_TOKEN_REFUSED',
      "the token was signed by Apple's sandbox leaf and this verifier accepts production tokens only",
      {
        certificate: 'leaf',
      },
    );
  }
  const stale = freshnessProblem(signer.signingTime, now, policy);
  if (stale !== null) return stale;
  const merchant = policy.merchants.get(token.publicKeyHash.toString('base64'));
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

function finish(
  policy: Policy,
  { token, signer, chain }: Checked,
  merchant: Merchant,
  plaintext: Buffer,
  timer: StepTimer | null,
  now: Date,
): Result {
  timer?.step('decrypt');
  // The latest verification instant: a stored token replayed with an old `now` must not turn it back.
  const used = policy.lastUsed?.get(merchant);
  if (used === undefined || used.getTime() < now.getTime()) policy.lastUsed?.set(merchant, now);
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
    merchantIdentifierHash: merchant.merchantIdentifierHash.toString('hex'),
    publicKeyHash: token.publicKeyHash.toString('base64'),
    environment: chainEnvironment(chain),
    payment,
  };
  if (token.applicationData !== undefined) result.applicationData = token.applicationData;
  return result;
}

// With a subscriber timing the steps, signature and decryption run as two calls so each has its time.
export function verifyTokenSync(policy: Policy, input: unknown, now: Date, timer: StepTimer | null): Result {
  if (policy.replayGuard !== null) {
    throw new ApplePayError('CONFIG_INVALID', 'a verifier with a replayGuard must use the asynchronous verifyAndDecrypt', {
      field: 'replayGuard',
    });
  }
  const checked = checkUntilSignature(policy, input, timer);
  const { token, signer, chain } = checked;
  const next = nextStep(policy, checked, now);
  let plaintext: Buffer;
  if (next instanceof ApplePayError || timer !== null) {
    verifySignerSync(signer, chain);
    timer?.step('signature');
    if (next instanceof ApplePayError) throw next;
    plaintext = decryptSync(next, token);
  } else {
    plaintext = decryptSync(next, token, checked);
  }
  return finish(policy, checked, next, plaintext, timer, now);
}

export async function verifyToken(policy: Policy, input: unknown, now: Date, timer: StepTimer | null): Promise<Result> {
  const checked = checkUntilSignature(policy, input, timer);
  const { token, signer, chain } = checked;
  const next = nextStep(policy, checked, now);
  let plaintext: Buffer;
  if (next instanceof ApplePayError || timer !== null) {
    await verifySignerAsync(signer, chain);
    timer?.step('signature');
    if (next instanceof ApplePayError) throw next;
    plaintext = await decryptAsync(next, token);
  } else {
    plaintext = await decryptAsync(next, token, checked);
  }
  const result = finish(policy, checked, next, plaintext, timer, now);
  if (policy.replayClaims !== null) {
    // Last, so that a forged or broken token can never use up a genuine transactionId. The claim's
    // lifetime is a duration from the same instant the freshness was judged by (`now`), so an injected
    // clock or a per-call `now` cannot open a second window; the store counts it on its own clock. It
    // lasts at least replayRetention, far beyond the window, so a fleet host whose clock is off by less
    // than that cannot see a token as fresh after its claim is gone.
    const windowLeft = signer.signingTime.getTime() + policy.maxSignatureAge + policy.maxClockSkew - now.getTime();
    await policy.replayClaims.claim(token.transactionId, Math.max(policy.replayRetention, Math.ceil(windowLeft)));
    timer?.step('replay');
  }
  return result;
}
