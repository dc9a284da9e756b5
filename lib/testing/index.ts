/**
 * applepay-verify/testing: mint Apple-shaped payment tokens for your own tests.
 *
 * A test PKI (root, intermediate, signing leaves, merchant certificates, all on fresh keys and marked
 * "TEST ONLY") signs and receives tokens with Apple's byte layout. A verifier configured with the PKI's
 * root and a merchant key accepts them; a verifier with the default (Apple) root refuses every one of
 * them with CHAIN_UNTRUSTED. See docs/testing.md.
 */
import { createHash, type KeyObject } from 'node:crypto';
import type { ErrorCode } from '../errors.js';
import type { MerchantOptions, TokenVersion, VerifierOptions } from '../index.js';
import { mintToken as mintRaw, type MintOptions as RawMintOptions, type PaymentData, type Signer } from './mint.js';
import { issuePki, newKey, testNames, type AuthorityName, type TestMerchant, type TestPki } from './pki.js';
import { presetPayment, type PresetName, type PresetOptions } from './presets.js';
import * as der from './der.js';
import { appleLeafSpec, issueCertificate } from './x509.js';

export { loadTestPki } from './pki.js';
export type { PkiEntity, SavedTestPki, TestMerchant, TestPki } from './pki.js';
export type { PaymentData, PaymentDataHeader } from './mint.js';
export { presetPayment, PRESET_NAMES } from './presets.js';
export type { PresetName, PresetOptions } from './presets.js';
export { TEST_ONLY_MARKER } from './x509.js';

/** The merchant identifier of `createTestPki()` when none is given. */
export const DEFAULT_TEST_MERCHANT_ID = 'merchant.com.example.test';

/** Certificates of a new PKI are valid over this span unless told otherwise: long enough never to go stale. */
const DEFAULT_NOT_BEFORE = new Date('2020-01-01T00:00:00Z');
const DEFAULT_NOT_AFTER = new Date('2049-12-31T23:59:59Z');

export interface CreateTestPkiOptions {
  /** Identifier of the `ec` and `rsa` merchants. Default "merchant.com.example.test". */
  merchantIdentifier?: string;
  /** Further merchants (e.g. a second key for key-rotation tests); names must not be `ec` or `rsa`. */
  extraMerchants?: readonly { name: string; keyType: 'EC' | 'RSA'; identifier?: string }[];
  /** Appended to every authority's name, to tell several PKIs apart in certificate dumps. */
  label?: string;
  /** Validity of every certificate. Default 2020-01-01 to 2049-12-31. */
  notBefore?: Date;
  notAfter?: Date;
}

/**
 * Issues a new test PKI on fresh keys: a P-384 root, a P-256 intermediate, an EC (P-256) leaf that signs
 * EC_v1 tokens and an RSA-2048 leaf that signs RSA_v1 tokens (both with Apple's leaf marker), a merchant CA,
 * and merchants `ec` (P-256) and `rsa` (RSA-2048) for one merchant identifier. Every authority's subject
 * says "TEST ONLY". Takes up to a second or so (RSA key generation): create one per suite, or save it.
 */
export function createTestPki(options: CreateTestPkiOptions = {}): TestPki {
  const identifier = options.merchantIdentifier ?? DEFAULT_TEST_MERCHANT_ID;
  const keys: Record<AuthorityName, KeyObject> = {
    root: newKey('EC', 'P-384'),
    intermediate: newKey('EC'),
    leafEc: newKey('EC'),
    leafRsa: newKey('RSA'),
    wwdr: newKey('EC'),
  };
  const merchants = [
    { name: 'ec', identifier, key: newKey('EC') },
    { name: 'rsa', identifier, key: newKey('RSA') },
  ];
  for (const m of options.extraMerchants ?? []) {
    if (merchants.some((x) => x.name === m.name)) throw new TypeError(`extraMerchants: the name ${JSON.stringify(m.name)} is taken`);
    merchants.push({ name: m.name, identifier: m.identifier ?? identifier, key: newKey(m.keyType) });
  }
  return issuePki({
    keys,
    merchants,
    names: testNames(options.label),
    notBefore: options.notBefore ?? DEFAULT_NOT_BEFORE,
    notAfter: options.notAfter ?? DEFAULT_NOT_AFTER,
    randomSerials: true,
  });
}

// ---------------------------------------------------------------------------
// Minting

/** What Apple Pay JS hands the page, and what most front ends post to the server. */
export interface ApplePayPaymentToken {
  paymentData: PaymentData;
  paymentMethod: { displayName: string; network: string; type: string };
  /** header.transactionId in upper case, as Apple Pay JS gives it. */
  transactionIdentifier: string;
}

export interface MintTokenOptions {
  /** Default "EC_v1". EC_v1 is signed by the EC leaf and encrypted to an EC merchant, RSA_v1 by the RSA leaf to an RSA merchant. */
  version?: TokenVersion;
  /** The decrypted payment, as a JSON-able object. Overrides `preset`. */
  payment?: Record<string, unknown>;
  /** A payload preset (default "3DSecure"); `amount` and `currencyCode` adjust it. */
  preset?: PresetName;
  /** transactionAmount of the preset, in minor units. */
  amount?: number;
  /** currencyCode of the preset, ISO 4217 numeric. */
  currencyCode?: string;
  /** Default: the current time. Milliseconds are dropped (the CMS holds whole seconds). */
  signingTime?: Date;
  /** 64 hex characters. Default: random. */
  transactionId?: string;
  /**
   * The applicationData of your payment request. The token's header carries the hex SHA-256 of these bytes
   * (a string counts as its UTF-8 bytes); the verifier's result gives that hash back as `applicationData`.
   */
  applicationData?: string | Uint8Array;
  /** A merchant of the PKI by name, or a TestMerchant. Default: `ec` for EC_v1, `rsa` for RSA_v1. */
  merchant?: string | TestMerchant;
  /** Also build Apple Pay JS's { paymentData, paymentMethod, transactionIdentifier } as `token`. */
  wrapper?: boolean | Partial<ApplePayPaymentToken['paymentMethod']>;
}

export interface MintedToken {
  /** The PKPaymentToken paymentData: what a native app sends. */
  paymentData: PaymentData;
  /** What to send to your endpoint: the Apple Pay JS wrapper when `wrapper` was asked for, else `paymentData`. */
  token: PaymentData | ApplePayPaymentToken;
  version: TokenVersion;
  /** Lower-case hex, as the verifier reports it. */
  transactionId: string;
  /** The signing time as encoded (whole seconds). */
  signingTime: Date;
  /** The payment the verifier must decrypt. */
  payment: Record<string, unknown>;
  merchantIdentifier: string;
  /** Lower-case hex SHA-256 of `applicationData`, as the verifier reports it; undefined without one. */
  applicationData?: string;
}

function pickMerchant(pki: TestPki, version: TokenVersion, choice: string | TestMerchant | undefined): TestMerchant {
  if (choice !== undefined && typeof choice !== 'string') return choice;
  const name = choice ?? (version === 'EC_v1' ? 'ec' : 'rsa');
  const merchant = pki.merchants[name];
  if (!merchant) throw new TypeError(`the test PKI has no merchant ${JSON.stringify(name)}`);
  const wanted = version === 'EC_v1' ? 'EC' : 'RSA';
  if (merchant.keyType !== wanted)
    throw new TypeError(`${version} needs an ${wanted} merchant; ${JSON.stringify(name)} is ${merchant.keyType}`);
  return merchant;
}

/** Everything but the cryptographic knobs: shared by mintToken and the mutators. */
function rawOptions(
  pki: TestPki,
  o: MintTokenOptions,
): { raw: RawMintOptions; version: TokenVersion; payment: Record<string, unknown>; appData?: string } {
  const version = o.version ?? 'EC_v1';
  if (version !== 'EC_v1' && version !== 'RSA_v1')
    throw new TypeError(`version must be "EC_v1" or "RSA_v1", not ${JSON.stringify(version)}`);
  const merchant = pickMerchant(pki, version, o.merchant);
  const presetOptions: PresetOptions = { merchantIdentifier: merchant.identifier };
  if (o.amount !== undefined) presetOptions.amount = o.amount;
  if (o.currencyCode !== undefined) presetOptions.currencyCode = o.currencyCode;
  const payment = o.payment ?? presetPayment(o.preset ?? '3DSecure', presetOptions);
  if (o.transactionId !== undefined && !/^(?:[0-9a-fA-F]{2})+$/.test(o.transactionId)) {
    throw new TypeError('transactionId must be hex (an even number of 0-9a-f characters)');
  }
  if (o.signingTime !== undefined && (!(o.signingTime instanceof Date) || Number.isNaN(o.signingTime.getTime()))) {
    throw new TypeError('signingTime must be a valid Date');
  }
  const appData =
    o.applicationData === undefined
      ? undefined
      : createHash('sha256')
          .update(typeof o.applicationData === 'string' ? Buffer.from(o.applicationData, 'utf8') : o.applicationData)
          .digest('hex');
  const raw: RawMintOptions = { version, payment, merchant, signingTime: o.signingTime ?? new Date() };
  if (o.transactionId !== undefined) raw.transactionId = o.transactionId;
  if (appData !== undefined) raw.applicationData = appData;
  return appData === undefined ? { raw, version, payment } : { raw, version, payment, appData };
}

function finish(
  o: MintTokenOptions,
  version: TokenVersion,
  payment: Record<string, unknown>,
  appData: string | undefined,
  minted: ReturnType<typeof mintRaw>,
): Omit<MintedToken, 'signingTime'> & { signingTime: Date | null } {
  const paymentData = minted.paymentData;
  let token: PaymentData | ApplePayPaymentToken = paymentData;
  if (o.wrapper) {
    const method = typeof o.wrapper === 'object' ? o.wrapper : {};
    // Apple Pay JS describes the card without its number: network and last four digits.
    const pan = typeof payment.applicationPrimaryAccountNumber === 'string' ? payment.applicationPrimaryAccountNumber : '';
    const network = method.network ?? (pan.startsWith('5') ? 'MasterCard' : pan.startsWith('3') ? 'Amex' : 'Visa');
    token = {
      paymentData,
      paymentMethod: { displayName: method.displayName ?? `${network} ${pan.slice(-4)}`.trim(), network, type: method.type ?? 'debit' },
      transactionIdentifier: paymentData.header.transactionId.toUpperCase(),
    };
  }
  const out: Omit<MintedToken, 'signingTime'> & { signingTime: Date | null } = {
    paymentData,
    token,
    version,
    transactionId: minted.expected.transactionId.toLowerCase(),
    signingTime: minted.expected.signingTime,
    payment,
    merchantIdentifier: minted.expected.merchantIdentifier,
  };
  if (appData !== undefined) out.applicationData = appData;
  return out;
}

/**
 * Mints a token that a verifier configured with `testVerifierOptions(pki)` (or with `pki.rootCertificate`
 * and the merchant's certificate and key) accepts, decrypting to `payment`.
 */
export function mintToken(pki: TestPki, options: MintTokenOptions = {}): MintedToken {
  const { raw, version, payment, appData } = rawOptions(pki, options);
  const minted = finish(options, version, payment, appData, mintRaw(pki, raw));
  // rawOptions always sets a signing time, so the token has one.
  return { ...minted, signingTime: minted.signingTime ?? new Date(0) };
}

// ---------------------------------------------------------------------------
// Verifier options

export interface TestVerifierOptionsInput {
  /** A fixed verification time (the verifier's clock). Default: the real clock. */
  now?: Date;
  /** Names of the merchants to configure. Default: all of the PKI's. */
  merchants?: readonly string[];
}

/**
 * Options for `createVerifier` that accept this PKI's tokens: `rootCertificate` (the test root),
 * `merchants` (certificate and key of each merchant) and `clock`. Spread it and add your own options.
 */
export function testVerifierOptions(
  pki: TestPki,
  input: TestVerifierOptionsInput = {},
): VerifierOptions & { merchants: MerchantOptions[] } {
  const names = input.merchants ?? Object.keys(pki.merchants);
  const merchants = names.map((n) => {
    const m = pki.merchants[n];
    if (!m) throw new TypeError(`the test PKI has no merchant ${JSON.stringify(n)}`);
    return { certificate: m.certificate, privateKey: m.privateKey };
  });
  const now = input.now;
  if (now !== undefined && (!(now instanceof Date) || Number.isNaN(now.getTime()))) throw new TypeError('now must be a valid Date');
  return {
    rootCertificate: pki.rootCertificate,
    merchants,
    clock: now === undefined ? () => new Date() : () => new Date(now.getTime()),
  };
}

// ---------------------------------------------------------------------------
// Mutators: tokens broken in one way each, for negative tests

/** A token a verifier from `testVerifierOptions(pki)` refuses with `code`. */
export interface NegativeToken extends Omit<MintedToken, 'signingTime'> {
  /** The signing time as encoded; null for `missingSigningTime`. */
  signingTime: Date | null;
  /** The code the verifier fails with. */
  code: ErrorCode;
}

export interface MutatorOptions extends MintTokenOptions {
  /** The verifier's time, for the time-based mutators. Default: now. */
  now?: Date;
}

/** The code each mutator's token gets from a verifier built with `testVerifierOptions(pki)`. */
export const MUTATOR_CODES = {
  wrongMerchantKey: 'MERCHANT_KEY_NOT_FOUND',
  mismatchedMerchantKey: 'DECRYPTION_FAILED',
  staleSigningTime: 'SIGNING_TIME_TOO_OLD',
  futureSigningTime: 'SIGNING_TIME_IN_FUTURE',
  missingSigningTime: 'SIGNING_TIME_MISSING',
  tamperedCiphertext: 'SIGNATURE_INVALID',
  tamperedTransactionId: 'SIGNATURE_INVALID',
  corruptedCiphertext: 'DECRYPTION_FAILED',
  otherRoot: 'CHAIN_UNTRUSTED',
  expiredLeaf: 'CERT_EXPIRED',
  unsupportedVersion: 'UNSUPPORTED_VERSION',
} as const satisfies Record<string, ErrorCode>;

export type MutatorName = keyof typeof MUTATOR_CODES;

type Mutator = (pki: TestPki, options?: MutatorOptions) => NegativeToken;

const otherPkis = new WeakMap<TestPki, TestPki>();

/** Another PKI with the same shape and names: a stand-in for anyone's root but the configured one. */
function otherPkiOf(pki: TestPki): TestPki {
  let other = otherPkis.get(pki);
  if (!other) {
    const ec = pki.merchants.ec;
    other = createTestPki({ merchantIdentifier: ec.identifier });
    otherPkis.set(pki, other);
  }
  return other;
}

function negative(
  name: MutatorName,
  pki: TestPki,
  o: MutatorOptions,
  change: (raw: RawMintOptions, now: Date) => void,
  after?: (pd: PaymentData) => void,
): NegativeToken {
  const { raw, version, payment, appData } = rawOptions(pki, o);
  const now = o.now ?? new Date();
  if (o.signingTime === undefined) raw.signingTime = now;
  change(raw, now);
  const minted = mintRaw(pki, raw);
  after?.(minted.paymentData);
  return { ...finish(o, version, payment, appData, minted), code: MUTATOR_CODES[name] };
}

function flipByte(b64: string, index: number): string {
  const bytes = Buffer.from(b64, 'base64');
  const i = ((index % bytes.length) + bytes.length) % bytes.length;
  bytes[i] = (bytes[i] ?? 0) ^ 0x01;
  return bytes.toString('base64');
}

/**
 * Mutators: each mints a token that is wrong in exactly one way. `token.code` is the error code the
 * verifier gives (also in MUTATOR_CODES and docs/testing.md).
 */
export const mutators = {
  /** Encrypted for a merchant key the verifier does not have (a rotated or foreign certificate). MERCHANT_KEY_NOT_FOUND. */
  wrongMerchantKey(pki, o = {}) {
    return negative('wrongMerchantKey', pki, o, (raw) => {
      const merchant = raw.merchant as TestMerchant;
      raw.merchant = { identifier: merchant.identifier, publicKey: newKey(merchant.keyType) };
    });
  },
  /** header.publicKeyHash names the configured merchant, but the key was agreed with another key. DECRYPTION_FAILED. */
  mismatchedMerchantKey(pki, o = {}) {
    return negative('mismatchedMerchantKey', pki, o, (raw) => {
      const merchant = raw.merchant as TestMerchant;
      raw.publicKeyHashOverride = merchant.publicKeyHash;
      raw.merchant = { identifier: merchant.identifier, publicKey: newKey(merchant.keyType) };
    });
  },
  /** Signed six minutes before the verifier's time (the default window is five). SIGNING_TIME_TOO_OLD. */
  staleSigningTime(pki, o = {}) {
    return negative('staleSigningTime', pki, o, (raw, now) => {
      raw.signingTime = new Date(now.getTime() - 360_000);
    });
  },
  /** Signed two minutes after the verifier's time (the default skew allowance is one). SIGNING_TIME_IN_FUTURE. */
  futureSigningTime(pki, o = {}) {
    return negative('futureSigningTime', pki, o, (raw, now) => {
      raw.signingTime = new Date(now.getTime() + 120_000);
    });
  },
  /** The CMS has no signingTime attribute. SIGNING_TIME_MISSING. */
  missingSigningTime(pki, o = {}) {
    return negative('missingSigningTime', pki, o, (raw) => {
      raw.signingTime = null;
    });
  },
  /** One bit of `data` flipped after signing, as a proxy or a bug in transit would. SIGNATURE_INVALID. */
  tamperedCiphertext(pki, o = {}) {
    return negative(
      'tamperedCiphertext',
      pki,
      o,
      () => {},
      (pd) => {
        pd.data = flipByte(pd.data, 5);
      },
    );
  },
  /** header.transactionId changed after signing (e.g. to replay under another id). SIGNATURE_INVALID. */
  tamperedTransactionId(pki, o = {}) {
    return negative(
      'tamperedTransactionId',
      pki,
      o,
      () => {},
      (pd) => {
        const id = pd.header.transactionId;
        pd.header.transactionId = (id[0] === '0' ? '1' : '0') + id.slice(1);
      },
    );
  },
  /** `data` corrupted before signing: the signature holds, the AES-GCM tag does not. DECRYPTION_FAILED. */
  corruptedCiphertext(pki, o = {}) {
    return negative('corruptedCiphertext', pki, o, (raw) => {
      const probe = mintRaw(pki, { ...raw, signingTime: null });
      const bytes = Buffer.from(probe.paymentData.data, 'base64');
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x01;
      raw.dataOverride = bytes;
    });
  },
  /** Signed by another test PKI's leaf and intermediate: the chain does not reach the configured root. CHAIN_UNTRUSTED. */
  otherRoot(pki, o = {}) {
    const other = otherPkiOf(pki);
    return negative('otherRoot', pki, o, (raw) => {
      raw.signer = raw.version === 'EC_v1' ? other.leafEc : other.leafRsa;
      raw.certificates = [raw.signer.certDer, other.intermediate.certDer];
    });
  },
  /** Signed by a leaf whose certificate expired a day before the signing time. CERT_EXPIRED. */
  expiredLeaf(pki, o = {}) {
    return negative('expiredLeaf', pki, o, (raw) => {
      const signingTime = raw.signingTime ?? new Date();
      const kind = raw.version === 'EC_v1' ? 'EC' : 'RSA';
      const leaf = kind === 'EC' ? pki.leafEc : pki.leafRsa;
      const certDer = issueCertificate(
        appleLeafSpec({
          kind,
          key: leaf.key,
          issuerKey: pki.intermediate.key,
          subject: subjectOf(leaf.certDer),
          issuer: subjectOf(pki.intermediate.certDer),
          notBefore: new Date(Math.floor(signingTime.getTime() / 1000) * 1000 - 400 * 86_400_000),
          notAfter: new Date(Math.floor(signingTime.getTime() / 1000) * 1000 - 86_400_000),
        }),
      );
      const signer: Signer = { certDer, key: leaf.key };
      raw.signer = signer;
      raw.certificates = [certDer, pki.intermediate.certDer];
    });
  },
  /** paymentData.version "EC_v2", a version no verifier knows. UNSUPPORTED_VERSION. */
  unsupportedVersion(pki, o = {}) {
    return negative('unsupportedVersion', pki, o, (raw) => {
      raw.versionOverride = 'EC_v2';
    });
  },
} satisfies Record<MutatorName, Mutator>;

/** The encoded subject Name of a DER certificate. */
function subjectOf(certDer: Buffer): Buffer {
  const tbs = der.children(der.readTlv(certDer, 0))[0];
  if (!tbs) throw new Error('not a certificate');
  const fields = der.children(tbs);
  const subject = fields[fields[0]?.identifier === 0xa0 ? 5 : 4];
  if (!subject) throw new Error('truncated TBSCertificate');
  return Buffer.from(subject.encoded);
}
