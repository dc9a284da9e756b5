// The whole procedure of Apple's "Payment Token Format Reference", top to bottom, in Apple's order:
// nothing is decrypted before the signature, the chain and the signing time have passed.
import type { ChainValidator } from './chain.js';
import { parseSignedData } from './cms.js';
import { decryptAsync, decryptSync } from './decrypt.js';
import { ApplePayError } from './errors.js';
import type { Merchant } from './merchant.js';
import { parsePayment, type Payment } from './payment.js';
import { checkFreshness, checkSigner, verifySignerAsync, verifySignerSync, type FreshnessPolicy } from './signature.js';
import { parseToken, signedContent, type ParsedToken, type TokenLimits, type TokenVersion } from './token.js';
import type { Chain } from './chain.js';
import type { SignerInfo } from './cms.js';

export interface Policy extends FreshnessPolicy {
  readonly chains: ChainValidator;
  readonly merchants: ReadonlyMap<string, Merchant>;
  readonly versions: ReadonlySet<TokenVersion>;
  readonly limits: TokenLimits;
}

export interface Result {
  version: TokenVersion;
  /** Lower-case hex. The caller must not credit the same transactionId twice. */
  transactionId: string;
  signingTime: Date;
  /** Lower-case hex SHA-256 of the merchant's applicationData, when the token carries one. */
  applicationData?: string;
  /** Lower-case hex SHA-256 of the merchant identifier the token was encrypted for. */
  merchantIdentifierHash: string;
  /** Base64, as in the token's header. */
  publicKeyHash: string;
  payment: Payment;
}

interface Verified {
  readonly token: ParsedToken;
  readonly signer: SignerInfo;
  readonly chain: Chain;
}

// Steps 1-2 up to the public-key operation: parse, read the CMS, check the chain, check the signer.
function checkUntilSignature(policy: Policy, input: unknown): Verified {
  const token = parseToken(input, policy.limits);
  if (!policy.versions.has(token.version)) {
    throw new ApplePayError('UNSUPPORTED_VERSION', `token version ${token.version} is not enabled`, { field: 'version' });
  }
  const { certificates, signer } = parseSignedData(token.signature, token.version);
  const chain = policy.chains.validate(certificates, token.version, signer.signingTime);
  checkSigner(signer, chain, signedContent(token));
  return { token, signer, chain };
}

// Step 3: the merchant key that publicKeyHash names, of the type the version needs.
function selectMerchant(policy: Policy, token: ParsedToken): Merchant {
  const merchant = policy.merchants.get(token.publicKeyHash.toString('base64'));
  if (merchant === undefined || merchant.version !== token.version) {
    throw new ApplePayError(
      'MERCHANT_KEY_NOT_FOUND',
      merchant === undefined
        ? "the token's publicKeyHash matches no configured merchant certificate"
        : `the merchant key named by publicKeyHash cannot decrypt ${token.version} tokens`,
      { field: 'header.publicKeyHash' },
    );
  }
  return merchant;
}

function finish(token: ParsedToken, signingTime: Date, merchant: Merchant, plaintext: Buffer): Result {
  let payment: Payment;
  try {
    payment = parsePayment(plaintext);
  } finally {
    plaintext.fill(0);
  }
  const result: Result = {
    version: token.version,
    transactionId: token.transactionId,
    signingTime,
    merchantIdentifierHash: merchant.merchantIdentifierHash.toString('hex'),
    publicKeyHash: token.publicKeyHash.toString('base64'),
    payment,
  };
  if (token.applicationData !== undefined) result.applicationData = token.applicationData;
  return result;
}

export function verifyTokenSync(policy: Policy, input: unknown, now: Date): Result {
  const { token, signer, chain } = checkUntilSignature(policy, input);
  verifySignerSync(signer, chain.leaf.publicKey);
  checkFreshness(signer.signingTime, now, policy);
  const merchant = selectMerchant(policy, token);
  return finish(token, signer.signingTime, merchant, decryptSync(merchant, token));
}

export async function verifyToken(policy: Policy, input: unknown, now: Date): Promise<Result> {
  const { token, signer, chain } = checkUntilSignature(policy, input);
  await verifySignerAsync(signer, chain.leaf.publicKey);
  checkFreshness(signer.signingTime, now, policy);
  const merchant = selectMerchant(policy, token);
  return finish(token, signer.signingTime, merchant, await decryptAsync(merchant, token));
}
