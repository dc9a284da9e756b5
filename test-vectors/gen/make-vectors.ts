/**
 * Mint the test-vector corpus: test-vectors/vectors/ and test-vectors/real/<set>/vector.json.
 *
 *   npm run vectors               regenerate the corpus in place, then run every vector against the library
 *   npm run vectors -- --check    regenerate into a temporary directory and compare with the committed corpus
 *   npm run vectors -- --out DIR  write the corpus under DIR instead (DIR/vectors, DIR/real)
 *
 * Every input that can be fixed is fixed: signing times and `now` are constant instants, transaction
 * ids, EC_v1 ephemeral keys and RSA_v1 AES keys are derived from the vector's name. Two things cannot
 * be fixed with node:crypto: ECDSA signatures (OpenSSL 3.0 signs with a random nonce, no RFC 6979) and
 * RSA-OAEP wrapping (random seed). So `signature` and `wrappedKey` bytes change on every run; every
 * other byte, and every verdict, is the regenerable contract that --check compares.
 *
 * The format is documented in test-vectors/README.md; lib/vectors/index.ts reads it.
 */
import { createCipheriv, createECDH, createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import type { ErrorCode } from '../../lib/errors.js';
import { findVectors, runVector, type Vector } from '../../lib/vectors/index.js';
import * as der from './der.js';
import { OID, appleIntermediateSpec, appleLeafSpec, issueCertificate, merchantIdHash } from './pki.js';
import { presetPayment } from '../../lib/testing/presets.js';
import { defaultPayment, loadTestPki, mintToken, type MintOptions, type MintedToken, type PaymentData } from './token.js';

const VECTORS_ROOT = fileURLToPath(new URL('../', import.meta.url));
const GENERATOR = 'test-vectors/gen/make-vectors.ts (npm run vectors)';
const pki = loadTestPki();

// ---------------------------------------------------------------------------
// Fixed inputs

/** Every minted token is signed at this instant and verified five seconds later, unless a vector says otherwise. */
const T0 = new Date('2025-03-01T12:00:00Z');
const later = (d: Date, seconds: number): Date => new Date(d.getTime() + seconds * 1000);
const NOW = later(T0, 5);

const sha256 = (text: string): Buffer => createHash('sha256').update(`applepay-verify vector ${text}`, 'utf8').digest();

const CURVES = {
  'P-256': { ecdh: 'prime256v1', size: 32, n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n },
  'P-384': {
    ecdh: 'secp384r1',
    size: 48,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
} as const;

/** A private key whose scalar is SHA-256 of the seed (stretched for P-384) mod n: the same key on every run. */
function seededEcKey(seed: string, curve: keyof typeof CURVES = 'P-256'): KeyObject {
  const c = CURVES[curve];
  const material = Buffer.concat([sha256(`${seed} #1`), sha256(`${seed} #2`)]).subarray(0, c.size);
  let d = BigInt(`0x${material.toString('hex')}`) % c.n;
  if (d === 0n) d = 1n;
  const scalar = Buffer.from(d.toString(16).padStart(c.size * 2, '0'), 'hex');
  // JWK import needs the public point too; ECDH computes it from the scalar.
  const ecdh = createECDH(c.ecdh);
  ecdh.setPrivateKey(scalar);
  const point = ecdh.getPublicKey();
  return createPrivateKey({
    key: {
      kty: 'EC',
      crv: curve,
      d: scalar.toString('base64url'),
      x: point.subarray(1, 1 + c.size).toString('base64url'),
      y: point.subarray(1 + c.size).toString('base64url'),
    },
    format: 'jwk',
  });
}

const transactionIdFor = (seed: string): string => sha256(`${seed} transactionId`).toString('hex');

type MintRequest = Partial<MintOptions> & Pick<MintOptions, 'version'>;

/** mintToken with this vector's fixed inputs; `seed` keeps two tokens of one vector apart. */
function mint(seed: string, o: MintRequest): MintedToken {
  const fixed: Partial<MintOptions> =
    o.version === 'EC_v1'
      ? { ephemeralPrivateKey: seededEcKey(`${seed} ephemeral`) }
      : { symmetricKey: sha256(`${seed} aes`).subarray(0, 16) };
  return mintToken(pki, { signingTime: T0, transactionId: transactionIdFor(seed), ...fixed, ...o });
}

// ---------------------------------------------------------------------------
// Configuration, as absolute paths until written

interface MerchantConfig {
  certificate?: string;
  privateKey: string;
  passphrase?: string;
  merchantIdentifier?: string;
}

const p12Path = (name: 'ec' | 'rsa' | 'zero' | 'ecRotated', nopass = false): string => {
  const entry = pki.manifest.merchants[name];
  const file = nopass ? entry.p12NoPassphrase : entry.p12;
  if (file === null) throw new Error(`the test PKI has no PKCS#12 for ${name}: run npm run pki with openssl available`);
  return join(pki.dir, file);
};

const M = {
  ec: { certificate: pki.merchants.ec.certPath, privateKey: pki.merchants.ec.keyPath },
  ecRotated: { certificate: pki.merchants.ecRotated.certPath, privateKey: pki.merchants.ecRotated.keyPath },
  rsa: { certificate: pki.merchants.rsa.certPath, privateKey: pki.merchants.rsa.keyPath },
  zero: { certificate: pki.merchants.zero.certPath, privateKey: pki.merchants.zero.keyPath },
} satisfies Record<string, MerchantConfig>;

const TEST_ROOT = pki.root.certPath;
/** The configuration of every token-level vector: both test merchants under the test root. */
const STANDARD: MerchantConfig[] = [M.ec, M.rsa];

interface Draft {
  /** "valid", or the expected code. */
  group: 'valid' | ErrorCode;
  name: string;
  description: string;
  /** Further provenance: how the inputs were made. */
  recipe?: string;
  token?: unknown;
  tokenText?: string;
  tokenFile?: string;
  merchants: MerchantConfig[];
  root: string | 'apple';
  now: Date;
  options?: Vector['options'];
  replay?: Vector['replay'];
  expected: Vector['expected'];
}

const drafts: Draft[] = [];
const names = new Set<string>();

function add(d: Draft): void {
  const key = `${d.group}/${d.name}`;
  if (names.has(key)) throw new Error(`duplicate vector ${key}`);
  names.add(key);
  drafts.push(d);
}

function success(m: MintedToken, payment: unknown = m.expected.payment): Vector['expected'] {
  const pd = m.paymentData;
  return {
    ok: true,
    payment,
    version: pd.version,
    transactionId: m.expected.transactionId.toLowerCase(),
    signingTime: m.expected.signingTime?.toISOString() ?? '',
    applicationData: pd.header.applicationData?.toLowerCase() ?? null,
    merchantIdentifierHash: merchantIdHash(m.expected.merchantIdentifier).toString('hex'),
    publicKeyHash: pd.header.publicKeyHash,
  };
}

const fail = (code: ErrorCode): Vector['expected'] => ({ ok: false, code });

/** A valid vector: the token verifies under the standard configuration unless told otherwise. */
function valid(name: string, description: string, o: MintRequest, extra: Partial<Draft> = {}): MintedToken {
  const m = mint(name, o);
  add({
    group: 'valid',
    name,
    description,
    token: m.paymentData,
    merchants: STANDARD,
    root: TEST_ROOT,
    now: NOW,
    expected: success(m),
    ...extra,
  });
  return m;
}

/** An invalid vector made by minting with options (the break is inside the signed token). */
function minted(code: ErrorCode, name: string, description: string, o: MintRequest, extra: Partial<Draft> = {}): MintedToken {
  const m = mint(name, o);
  add({
    group: code,
    name,
    description,
    token: m.paymentData,
    merchants: STANDARD,
    root: TEST_ROOT,
    now: NOW,
    expected: fail(code),
    ...extra,
  });
  return m;
}

/** An invalid vector made from a given token object or text. */
function given(
  code: ErrorCode,
  name: string,
  description: string,
  token: { token: unknown } | { tokenText: string },
  extra: Partial<Draft> = {},
): void {
  add({ group: code, name, description, ...token, merchants: STANDARD, root: TEST_ROOT, now: NOW, expected: fail(code), ...extra });
}

const flipByte = (buf: Buffer, index: number): Buffer => {
  const copy = Buffer.from(buf);
  const i = index < 0 ? copy.length + index : index;
  copy[i] = (copy[i] ?? 0) ^ 0x01;
  return copy;
};

const b64 = (buf: Buffer): string => buf.toString('base64');
const unb64 = (s: string | undefined): Buffer => Buffer.from(s ?? '', 'base64');
const withHeader = (pd: PaymentData, h: Record<string, unknown>): Record<string, unknown> => ({ ...pd, header: { ...pd.header, ...h } });

// ---------------------------------------------------------------------------
// Payloads

// The test kit's presets (lib/testing/presets.ts): the payloads users mint are the ones the corpus pins.
const emvPayment = presetPayment('EMV');
const merchantTokenPayment = presetPayment('merchantToken', { merchantIdentifier: 'merchant.com.example.applepay-verify.ec' });

const payment3ds = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ ...defaultPayment(), ...extra });

// ---------------------------------------------------------------------------
// Valid vectors

const ecBasic = valid('ec-3ds', 'EC_v1 token with a 3DSecure payment, no applicationData', { version: 'EC_v1' });
valid('ec-3ds-application-data', "EC_v1 token with header.applicationData (hex SHA-256 of the merchant's applicationData)", {
  version: 'EC_v1',
  applicationData: sha256('ec application data').toString('hex'),
});
const rsaBasic = valid('rsa-3ds', 'RSA_v1 token with a 3DSecure payment, no applicationData', { version: 'RSA_v1' });
valid('rsa-3ds-application-data', 'RSA_v1 token with header.applicationData', {
  version: 'RSA_v1',
  applicationData: sha256('rsa application data').toString('hex'),
});
valid('ec-emv', 'EC_v1 token with an EMV payment (emvData, encryptedPINData)', { version: 'EC_v1', payment: emvPayment });
valid('rsa-emv', 'RSA_v1 token with an EMV payment', { version: 'RSA_v1', payment: emvPayment });
valid('ec-merchant-token', 'EC_v1 token for a merchant token: merchantTokenIdentifier, merchantTokenMetadata, authenticationResponses', {
  version: 'EC_v1',
  payment: merchantTokenPayment,
});
valid('ec-3ds-cardholder-and-future-field', 'EC_v1 payment with cardholderName and a field Apple might add later: both pass through', {
  version: 'EC_v1',
  payment: payment3ds({ cardholderName: 'Jane Appleseed', someFutureField: { nested: [1, 'two'] } }),
});
valid(
  'ec-merchant-zero',
  "EC_v1 token for merchant 'zero', whose identifier hash starts with 0x00 (Party V keeps its leading zero byte)",
  {
    version: 'EC_v1',
    merchant: 'zero',
  },
  { merchants: [M.zero] },
);
valid('ec-transaction-id-leading-zeros', 'EC_v1 token whose transactionId starts with 00 (the decoded bytes keep it)', {
  version: 'EC_v1',
  transactionId: `0000${transactionIdFor('ec-transaction-id-leading-zeros').slice(4)}`,
});
valid('ec-transaction-id-uppercase', 'EC_v1 token with an upper-case hex transactionId: the result gives it in lower case', {
  version: 'EC_v1',
  transactionId: transactionIdFor('ec-transaction-id-uppercase').toUpperCase(),
});
{
  const leaf = issueCertificate(
    appleLeafSpec({ kind: 'EC', key: pki.leafEc.key, issuerKey: pki.intermediate.key, notAfter: later(T0, 3) }),
  );
  valid(
    'ec-leaf-expires-after-signing',
    'The leaf expires 3 s after the signing time and is expired at `now` (T+30 s): validity is judged at the signing time, so it verifies',
    { version: 'EC_v1', signer: { certDer: leaf, key: pki.leafEc.key } },
    { now: later(T0, 30), recipe: 'leaf re-issued from appleLeafSpec with notAfter = signingTime + 3 s, same key and issuer' },
  );
}
valid(
  'ec-rotation-old-key',
  'Key rotation: two merchant certificates configured, the token is encrypted to the first',
  { version: 'EC_v1' },
  {
    merchants: [M.ec, M.ecRotated],
  },
);
valid(
  'ec-rotation-new-key',
  'Key rotation: two merchant certificates configured, the token is encrypted to the second (chosen by publicKeyHash)',
  {
    version: 'EC_v1',
    merchant: 'ecRotated',
  },
  { merchants: [M.ec, M.ecRotated] },
);
valid(
  'ec-pkcs12',
  'Merchant key from a PKCS#12 file with passphrase; the certificate is taken from it',
  { version: 'EC_v1' },
  {
    merchants: [{ privateKey: p12Path('ec'), passphrase: pki.p12Passphrase }],
  },
);
valid(
  'ec-pkcs12-no-passphrase',
  'Merchant key from a PKCS#12 file without a passphrase',
  { version: 'EC_v1' },
  {
    merchants: [{ privateKey: p12Path('ec', true) }],
  },
);
valid(
  'ec-pkcs12-with-certificate',
  'PKCS#12 key together with the same certificate given separately',
  { version: 'EC_v1' },
  {
    merchants: [{ certificate: pki.merchants.ec.certPath, privateKey: p12Path('ec'), passphrase: pki.p12Passphrase }],
  },
);
valid(
  'rsa-pkcs12',
  'RSA merchant key from a PKCS#12 file with passphrase',
  { version: 'RSA_v1' },
  {
    merchants: [{ privateKey: p12Path('rsa'), passphrase: pki.p12Passphrase }],
  },
);
valid(
  'ec-merchant-identifier',
  'Merchant configured by merchantIdentifier and private key, no certificate',
  { version: 'EC_v1' },
  {
    merchants: [{ merchantIdentifier: pki.merchants.ec.identifier, privateKey: pki.merchants.ec.keyPath }],
  },
);
valid(
  'ec-merchant-identifier-zero',
  "merchantIdentifier configuration for merchant 'zero' (hash 00C7E48F...)",
  { version: 'EC_v1', merchant: 'zero' },
  {
    merchants: [{ merchantIdentifier: pki.merchants.zero.identifier, privateKey: pki.merchants.zero.keyPath }],
  },
);
valid(
  'rsa-merchant-identifier',
  'RSA merchant configured by merchantIdentifier and private key',
  { version: 'RSA_v1' },
  {
    merchants: [{ merchantIdentifier: pki.merchants.rsa.identifier, privateKey: pki.merchants.rsa.keyPath }],
  },
);
valid('ec-cms-digest-null-params', 'CMS with the SHA-256 AlgorithmIdentifier carrying NULL parameters, as pre-2023 Apple tokens', {
  version: 'EC_v1',
  cms: { digestParamsNull: true },
});
valid('ec-cms-definite-length', "CMS in definite-length DER instead of Apple's indefinite BER lengths", {
  version: 'EC_v1',
  cms: { indefiniteLength: false },
});
valid('ec-cms-no-algorithm-protection', 'CMS without the optional CMSAlgorithmProtection attribute', {
  version: 'EC_v1',
  cms: { omitAlgorithmProtection: true },
});
valid(
  'ec-signed-300s-ago',
  'Signed exactly maxSignatureAge (300 s) before now: still fresh',
  { version: 'EC_v1' },
  { now: later(T0, 300) },
);
valid('ec-signed-60s-ahead', 'Signed 60 s after now (the default clock skew): accepted', { version: 'EC_v1' }, { now: later(T0, -60) });
{
  const m = mint('ec-apple-pay-js-wrapper', { version: 'EC_v1' });
  add({
    group: 'valid',
    name: 'ec-apple-pay-js-wrapper',
    description: "Apple Pay JS's { paymentData, paymentMethod, transactionIdentifier } wrapper around the token",
    token: {
      paymentData: m.paymentData,
      paymentMethod: { displayName: 'Visa 1111', network: 'Visa', type: 'credit' },
      transactionIdentifier: m.paymentData.header.transactionId.toUpperCase(),
    },
    merchants: STANDARD,
    root: TEST_ROOT,
    now: NOW,
    expected: success(m),
  });
}
{
  const m = mint('ec-token-text', { version: 'EC_v1' });
  add({
    group: 'valid',
    name: 'ec-token-text',
    description: 'The token as raw JSON text (tokenText), as a server receives it',
    tokenText: JSON.stringify(m.paymentData),
    merchants: STANDARD,
    root: TEST_ROOT,
    now: NOW,
    expected: success(m),
  });
}
valid('ec-versions-ec-only', 'versions: ["EC_v1"] accepts an EC_v1 token', { version: 'EC_v1' }, { options: { versions: ['EC_v1'] } });

// ---------------------------------------------------------------------------
// Configuration codes: the vector's configuration is what is wrong; its token is valid

const cfg = (code: ErrorCode, name: string, description: string, extra: Partial<Draft>, version: 'EC_v1' | 'RSA_v1' = 'EC_v1'): void => {
  minted(code, name, description, { version }, extra);
};
cfg('CONFIG_INVALID', 'same-key-twice', 'The same merchant certificate and key listed twice', { merchants: [M.ec, { ...M.ec }] });
cfg(
  'CONFIG_INVALID',
  'merchant-identifier-contradicts-certificate',
  "merchantIdentifier differs from the certificate's 1.2.840.113635.100.6.32",
  {
    merchants: [{ ...M.ec, merchantIdentifier: 'merchant.com.example.other' }],
  },
);
cfg('CONFIG_INVALID', 'no-merchants', 'An empty merchant list', { merchants: [] });
cfg('CONFIG_INVALID', 'negative-max-age', 'options.maxSignatureAge is negative', { options: { maxSignatureAge: -1 } });
cfg('CONFIG_INVALID', 'unknown-version-option', 'options.versions names a version that does not exist', {
  options: { versions: ['EC_v2'] },
});
cfg(
  'MERCHANT_CERT_INVALID',
  'no-merchant-id-extension',
  'The WWDR look-alike CA certificate (and its key) as merchant certificate: no 1.2.840.113635.100.6.32',
  {
    merchants: [{ certificate: pki.wwdr.certPath, privateKey: pki.wwdr.keyPath }],
  },
);
cfg('MERCHANT_CERT_INVALID', 'not-a-certificate', 'A private-key PEM file given as the merchant certificate', {
  merchants: [{ certificate: pki.merchants.ec.keyPath, privateKey: pki.merchants.ec.keyPath }],
});
cfg('MERCHANT_KEY_INVALID', 'key-of-another-certificate', 'The rotated key paired with the first certificate', {
  merchants: [{ certificate: pki.merchants.ec.certPath, privateKey: pki.merchants.ecRotated.keyPath }],
});
cfg('MERCHANT_KEY_INVALID', 'pkcs12-wrong-passphrase', 'A PKCS#12 file with the wrong passphrase', {
  merchants: [{ privateKey: p12Path('ec'), passphrase: 'not-the-passphrase' }],
});
cfg('MERCHANT_KEY_INVALID', 'p384-key', "A P-384 key (the test root's) with a merchantIdentifier: Apple Pay keys are P-256 or RSA", {
  merchants: [{ merchantIdentifier: pki.merchants.ec.identifier, privateKey: pki.root.keyPath }],
});
cfg('MERCHANT_KEY_INVALID', 'certificate-as-key', 'A certificate PEM file given as the private key', {
  merchants: [{ certificate: pki.merchants.ec.certPath, privateKey: pki.merchants.ec.certPath }],
});
cfg('ROOT_CERT_INVALID', 'root-not-ca', 'A merchant (end-entity) certificate configured as the root', { root: pki.merchants.ec.certPath });
cfg('ROOT_CERT_INVALID', 'root-not-self-signed', 'The intermediate (a CA, but not self-signed) configured as the root', {
  root: pki.intermediate.certPath,
});
cfg('ROOT_CERT_INVALID', 'root-not-a-certificate', 'A private-key file configured as the root', { root: pki.wwdr.keyPath });

// ---------------------------------------------------------------------------
// TOKEN_MALFORMED

{
  const pd = mint('malformed-base', { version: 'EC_v1' }).paymentData;
  const text = JSON.stringify(pd);
  const T = 'TOKEN_MALFORMED';
  // Cut before the signature: its length varies by a byte or two between runs (DER-encoded ECDSA).
  given(T, 'not-json', 'Truncated JSON text (cut just before the signature field)', {
    tokenText: text.slice(0, text.indexOf('"signature"')),
  });
  given(T, 'empty-text', 'An empty string', { tokenText: '' });
  given(T, 'duplicate-key', 'Two "data" keys (JSON.parse would keep the last one)', { tokenText: text.replace('{', '{"data":"AAAA",') });
  given(T, 'duplicate-key-in-header', 'Two "transactionId" keys in the header', {
    tokenText: text.replace('"header":{', `"header":{"transactionId":"${'ab'.repeat(32)}",`),
  });
  given(T, 'proto-key', 'A "__proto__" key at the top level', { tokenText: text.replace('{', '{"__proto__":{},') });
  given(T, 'constructor-key', 'A "constructor" key inside the header', {
    tokenText: text.replace('"header":{', '"header":{"constructor":"x",'),
  });
  given(T, 'proto-key-parsed', 'A "__proto__" own property in an already-parsed token object (JSON.parse makes it an own key)', {
    token: JSON.parse(text.replace('{', '{"__proto__":{"polluted":1},')) as unknown,
  });
  given(T, 'top-level-array', 'The token inside a JSON array', { tokenText: `[${text}]` });
  given(T, 'missing-header', 'The header field is missing', { token: { ...pd, header: undefined } });
  given(T, 'data-not-string', 'data is a number', { token: { ...pd, data: 5 } });
  given(T, 'missing-signature', 'No signature', { token: { version: pd.version, data: pd.data, header: pd.header } });
  given(T, 'base64-url-alphabet', 'data uses the URL-safe base64 alphabet ("-" for "+")', {
    token: { ...pd, data: `-${pd.data.slice(1)}` },
  });
  given(T, 'base64-missing-padding', 'data without its "=" padding', {
    token: { ...pd, data: pd.data.endsWith('=') ? pd.data.replace(/=+$/, '') : `${pd.data}==` },
  });
  given(T, 'base64-whitespace', 'data with a leading space', { token: { ...pd, data: ` ${pd.data}` } });
  given(T, 'base64-data-after-padding', 'signature with more base64 after its padding', {
    token: { ...pd, signature: `${pd.signature}AAAA=` },
  });
  {
    // 32 bytes in base64 leave two unused bits in the last character before "="; set them.
    const h = pd.header.publicKeyHash;
    const last = h.charAt(42);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const bumped = alphabet.charAt(alphabet.indexOf(last) | 1);
    given(T, 'base64-nonzero-padding-bits', 'publicKeyHash whose unused padding bits are not zero (decodes to the same bytes leniently)', {
      token: withHeader(pd, {
        publicKeyHash: `${h.slice(0, 42)}${bumped === last ? alphabet.charAt(alphabet.indexOf(last) | 2) : bumped}=`,
      }),
    });
  }
  given(T, 'hex-odd-length', 'transactionId with an odd number of hex digits', {
    token: withHeader(pd, { transactionId: `${pd.header.transactionId}0` }),
  });
  given(T, 'hex-bad-characters', 'transactionId ending in non-hex characters', {
    token: withHeader(pd, { transactionId: `${pd.header.transactionId.slice(2)}zz` }),
  });
  given(T, 'hex-0x-prefix', 'transactionId with a 0x prefix', { token: withHeader(pd, { transactionId: `0x${pd.header.transactionId}` }) });
  given(T, 'application-data-wrong-length', 'applicationData of 2 bytes instead of a SHA-256 hash', {
    token: withHeader(pd, { applicationData: 'abcd' }),
  });
  given(T, 'application-data-base64', 'applicationData in base64 instead of hex', {
    token: withHeader(pd, { applicationData: b64(sha256('application data')) }),
  });
  given(T, 'public-key-hash-wrong-length', 'publicKeyHash of 31 bytes', {
    token: withHeader(pd, { publicKeyHash: b64(unb64(pd.header.publicKeyHash).subarray(1)) }),
  });
  given(T, 'wrapped-key-on-ec', 'An EC_v1 header that also carries wrappedKey', {
    token: withHeader(pd, { wrappedKey: pd.header.ephemeralPublicKey }),
  });
  given(T, 'data-too-short', 'data of 16 bytes: no room for ciphertext and tag', {
    token: { ...pd, data: b64(unb64(pd.data).subarray(0, 16)) },
  });
  given(T, 'wrapper-transaction-id-mismatch', "Apple Pay JS wrapper whose transactionIdentifier differs from the header's", {
    token: { paymentData: pd, transactionIdentifier: 'AB'.repeat(32) },
  });
  const rsa = mint('malformed-rsa', { version: 'RSA_v1' }).paymentData;
  given(T, 'wrapped-key-too-short', 'RSA_v1 wrappedKey of 128 bytes (shorter than any accepted modulus)', {
    token: withHeader(rsa, { wrappedKey: b64(unb64(rsa.header.wrappedKey).subarray(0, 128)) }),
  });
  given(T, 'ephemeral-key-on-rsa', 'An RSA_v1 header that also carries ephemeralPublicKey', {
    token: withHeader(rsa, { ephemeralPublicKey: pd.header.ephemeralPublicKey }),
  });
}

// ---------------------------------------------------------------------------
// TOKEN_TOO_LARGE

{
  const pd = mint('too-large-base', { version: 'EC_v1' }).paymentData;
  const T = 'TOKEN_TOO_LARGE';
  given(T, 'token-over-64k', 'Token text of more than 65536 bytes (a padding field), refused before parsing', {
    tokenText: JSON.stringify({ ...pd, pad: 'A'.repeat(65_600) }),
  });
  given(T, 'signature-over-8k', 'A 9000-byte signature, refused before any ASN.1 parsing', {
    token: { ...pd, signature: b64(Buffer.alloc(9000, 0x30)) },
  });
  given(T, 'field-over-64k', 'A parsed token whose data field alone exceeds 65536 characters', {
    token: { ...pd, data: 'A'.repeat(65_540) },
  });
  given(
    T,
    'token-over-configured-cap',
    'A normal token over a configured maxTokenBytes of 1024',
    { tokenText: JSON.stringify(pd) },
    {
      options: { maxTokenBytes: 1024 },
    },
  );
}

// ---------------------------------------------------------------------------
// UNSUPPORTED_VERSION

{
  const pd = ecBasic.paymentData;
  given('UNSUPPORTED_VERSION', 'unknown-version', 'version "EC_v2"', { token: { ...pd, version: 'EC_v2' } });
  given('UNSUPPORTED_VERSION', 'version-wrong-case', 'version "ec_v1"', { token: { ...pd, version: 'ec_v1' } });
  given(
    'UNSUPPORTED_VERSION',
    'rsa-not-enabled',
    'An RSA_v1 token with options.versions ["EC_v1"]',
    { token: rsaBasic.paymentData },
    {
      options: { versions: ['EC_v1'] },
    },
  );
}

// ---------------------------------------------------------------------------
// SIGNATURE_MALFORMED

{
  const S = 'SIGNATURE_MALFORMED';
  minted(S, 'attached-content', 'eContent present and signed (the forgery a verifier that checks the attached content accepts)', {
    version: 'EC_v1',
    cms: { attachContent: Buffer.from('forged content') },
  });
  minted(S, 'two-signer-infos', 'Two SignerInfos, both valid', { version: 'EC_v1', cms: { extraSigners: 1 } });
  minted(S, 'no-certificates', 'SignedData without a certificates field', { version: 'EC_v1', cms: { noCertificates: true } });
  minted(S, 'crls-present', 'SignedData carrying a CRL', { version: 'EC_v1', cms: { includeCrls: true } });
  minted(S, 'signed-data-version-3', 'SignedData version 3', { version: 'EC_v1', cms: { signedDataVersion: 3 } });
  minted(S, 'signer-info-version-3', 'SignerInfo version 3', { version: 'EC_v1', cms: { signerInfoVersion: 3 } });
  minted(S, 'no-content-type-attribute', 'Signed attributes without contentType', { version: 'EC_v1', cms: { omitContentTypeAttr: true } });
  minted(S, 'no-message-digest-attribute', 'Signed attributes without messageDigest', {
    version: 'EC_v1',
    cms: { omitMessageDigest: true },
  });
  minted(S, 'no-signed-attributes', 'SignerInfo without signed attributes (signature over the content itself)', {
    version: 'EC_v1',
    cms: { omitSignedAttributes: true },
  });
  minted(S, 'content-type-attribute-not-data', 'contentType attribute = id-signedData', {
    version: 'EC_v1',
    cms: { contentTypeOid: OID.signedData },
  });
  minted(S, 'econtent-type-not-data', 'eContentType = id-signedData', { version: 'EC_v1', cms: { eContentTypeOid: OID.signedData } });
  minted(S, 'outer-content-type-not-signed-data', 'ContentInfo.contentType = id-data', {
    version: 'EC_v1',
    cms: { outerContentTypeOid: OID.data },
  });
  minted(S, 'two-message-digests', 'A second messageDigest attribute', {
    version: 'EC_v1',
    cms: { extraSignedAttributes: [der.sequence([der.oid(OID.messageDigest), der.set([der.octetString(Buffer.alloc(32))])])] },
  });
  const pd = mint('signature-malformed-base', { version: 'EC_v1' }).paymentData;
  given(S, 'random-bytes', 'signature is 2200 bytes of 0x07', { token: { ...pd, signature: b64(Buffer.alloc(2200, 7)) } });
  const sig = unb64(pd.signature);
  given(S, 'truncated-signature', 'signature cut to its first half', {
    token: { ...pd, signature: b64(sig.subarray(0, Math.floor(sig.length / 2))) },
  });
  given(S, 'trailing-bytes-after-cms', 'Two zero bytes after the ContentInfo', {
    token: { ...pd, signature: b64(Buffer.concat([sig, Buffer.alloc(2)])) },
  });
  minted(S, 'only-leaf-certificate', 'The CMS carries the leaf but not the intermediate', {
    version: 'EC_v1',
    certificates: [pki.leafEc.certDer],
  });
  minted(S, 'unparsable-certificate', 'A third entry in the CMS certificates that is not a certificate (SEQUENCE { INTEGER 1 })', {
    version: 'EC_v1',
    certificates: [Buffer.from('3003020101', 'hex'), pki.leafEc.certDer, pki.intermediate.certDer],
  });
}

// ---------------------------------------------------------------------------
// SIGNATURE_INVALID

{
  const S = 'SIGNATURE_INVALID';
  const good = mint('signature-invalid-base', { version: 'EC_v1' });
  const pd = good.paymentData;
  given(S, 'tampered-ciphertext', 'One bit of data flipped after signing', { token: { ...pd, data: b64(flipByte(unb64(pd.data), 0)) } });
  given(S, 'tampered-tag', 'One bit of the GCM tag flipped after signing', { token: { ...pd, data: b64(flipByte(unb64(pd.data), -1)) } });
  given(S, 'truncated-data', 'The last byte of data removed after signing', {
    token: { ...pd, data: b64(unb64(pd.data).subarray(0, -1)) },
  });
  given(S, 'changed-transaction-id', 'transactionId replaced after signing', { token: withHeader(pd, { transactionId: 'ff'.repeat(32) }) });
  given(S, 'added-application-data', 'applicationData added after signing (hex, as Apple defines it)', {
    token: withHeader(pd, { applicationData: 'ab'.repeat(32) }),
  });
  given(S, 'swapped-ephemeral-key', 'ephemeralPublicKey of another token', {
    token: withHeader(pd, {
      ephemeralPublicKey: mint('signature-invalid-other', { version: 'EC_v1' }).paymentData.header.ephemeralPublicKey,
    }),
  });
  given(S, 'signature-of-another-token', 'The whole signature of another valid token', {
    token: { ...pd, signature: mint('signature-invalid-other', { version: 'EC_v1' }).paymentData.signature },
  });
  const rsa = mint('signature-invalid-rsa', { version: 'RSA_v1' }).paymentData;
  given(S, 'rsa-tampered-ciphertext', 'RSA_v1: one bit of data flipped after signing', {
    token: { ...rsa, data: b64(flipByte(unb64(rsa.data), 3)) },
  });
  minted(S, 'wrong-message-digest', 'messageDigest attribute of 32 zero bytes', {
    version: 'EC_v1',
    cms: { messageDigestOverride: Buffer.alloc(32) },
  });
  minted(S, 'signed-other-content', 'A valid signature over other bytes than the token fields', {
    version: 'EC_v1',
    cms: { signedContentOverride: Buffer.from('other bytes') },
  });
  minted(S, 'algorithm-ecdsa-sha384', 'SignerInfo signatureAlgorithm ecdsa-with-SHA384 (EC_v1 requires ecdsa-with-SHA256)', {
    version: 'EC_v1',
    cms: { signatureAlgorithmOid: '1.2.840.10045.4.3.3' },
  });
  minted(S, 'algorithm-digest-sha384', 'digestAlgorithm SHA-384, consistently signed (Apple pins SHA-256)', {
    version: 'EC_v1',
    cms: { digestAlgorithmOid: OID.sha384 },
  });
  minted(S, 'algorithm-digest-sha1', 'digestAlgorithm SHA-1, consistently signed', {
    version: 'EC_v1',
    cms: { digestAlgorithmOid: OID.sha1 },
  });
  minted(S, 'rsa-algorithm-ecdsa', 'RSA_v1 SignerInfo labelled ecdsa-with-SHA256', {
    version: 'RSA_v1',
    cms: { signatureAlgorithmOid: OID.ecdsaWithSHA256 },
  });
  minted(S, 'rsa-algorithm-sha512-rsa', 'RSA_v1 SignerInfo labelled sha512WithRSAEncryption', {
    version: 'RSA_v1',
    cms: { signatureAlgorithmOid: OID.sha512WithRSAEncryption },
  });
  minted(S, 'signed-by-another-key', "The leaf's certificate, but the signature made with another P-256 key", {
    version: 'EC_v1',
    signer: { certDer: pki.leafEc.certDer, key: pki.merchants.ec.key },
  });
  minted(S, 'rsa-signed-by-another-key', "RSA_v1: the RSA leaf's certificate, signature made with the RSA merchant key", {
    version: 'RSA_v1',
    signer: { certDer: pki.leafRsa.certDer, key: pki.merchants.rsa.key },
  });
  minted(S, 'signer-is-intermediate', 'The SignerInfo names the intermediate (and is signed with its key), not the leaf', {
    version: 'EC_v1',
    signer: { certDer: pki.intermediate.certDer, key: pki.intermediate.key },
    certificates: [pki.leafEc.certDer, pki.intermediate.certDer],
  });
}

// ---------------------------------------------------------------------------
// Signing time

minted('SIGNING_TIME_MISSING', 'no-signing-time', 'Signed attributes without signingTime', { version: 'EC_v1', signingTime: null });
minted('SIGNING_TIME_MISSING', 'rsa-no-signing-time', 'RSA_v1: signed attributes without signingTime', {
  version: 'RSA_v1',
  signingTime: null,
});
minted(
  'SIGNING_TIME_TOO_OLD',
  'signed-301s-ago',
  'Signed 301 s before now (default window 300 s)',
  { version: 'EC_v1' },
  { now: later(T0, 301) },
);
minted(
  'SIGNING_TIME_TOO_OLD',
  'signed-a-day-ago',
  'Signed a day before now: a replayed token',
  { version: 'EC_v1' },
  { now: later(T0, 86_400) },
);
minted(
  'SIGNING_TIME_TOO_OLD',
  'configured-window',
  'Signed 11 s before now with options.maxSignatureAge 10',
  { version: 'EC_v1' },
  {
    now: later(T0, 11),
    options: { maxSignatureAge: 10 },
  },
);
minted(
  'SIGNING_TIME_IN_FUTURE',
  'signed-61s-ahead',
  'Signed 61 s after now (default skew 60 s)',
  { version: 'EC_v1' },
  { now: later(T0, -61) },
);
minted(
  'SIGNING_TIME_IN_FUTURE',
  'configured-skew',
  'Signed 1 s after now with options.maxClockSkew 0',
  { version: 'EC_v1' },
  {
    now: later(T0, -1),
    options: { maxClockSkew: 0 },
  },
);

// ---------------------------------------------------------------------------
// Certificates

{
  const leafSpec = appleLeafSpec({ kind: 'EC', key: pki.leafEc.key, issuerKey: pki.intermediate.key });
  const unmarkedLeaf = issueCertificate({ ...leafSpec, extensions: leafSpec.extensions.filter((e) => e.oid !== OID.appleLeafMarker) });
  minted(
    'LEAF_CERT_INVALID',
    'leaf-marker-missing',
    'The leaf lacks marker 1.2.840.113635.100.6.29 (otherwise identical, validly signed)',
    {
      version: 'EC_v1',
      signer: { certDer: unmarkedLeaf, key: pki.leafEc.key },
    },
    { recipe: 'leaf re-issued from appleLeafSpec without the 1.2.840.113635.100.6.29 extension' },
  );
  // The SignerInfo keeps the algorithm the version requires, so the leaf's key type is what is wrong.
  minted('LEAF_CERT_INVALID', 'rsa-leaf-on-ec-token', 'An EC_v1 token signed by the RSA leaf (SignerInfo labelled ecdsa-with-SHA256)', {
    version: 'EC_v1',
    signer: { certDer: pki.leafRsa.certDer, key: pki.leafRsa.key },
    cms: { signatureAlgorithmOid: OID.ecdsaWithSHA256 },
  });
  minted(
    'LEAF_CERT_INVALID',
    'ec-leaf-on-rsa-token',
    'An RSA_v1 token signed by the EC leaf (SignerInfo labelled sha256WithRSAEncryption)',
    {
      version: 'RSA_v1',
      signer: { certDer: pki.leafEc.certDer, key: pki.leafEc.key },
      cms: { signatureAlgorithmOid: OID.sha256WithRSAEncryption },
    },
  );
  minted('SIGNATURE_MALFORMED', 'two-leaf-markers', 'A third certificate (the RSA leaf, a second leaf marker): refused on sight', {
    version: 'EC_v1',
    certificates: [pki.leafEc.certDer, pki.leafRsa.certDer, pki.intermediate.certDer],
  });
  const caLeaf = issueCertificate({
    ...leafSpec,
    extensions: leafSpec.extensions.map((e) =>
      e.oid === OID.basicConstraints ? { oid: OID.basicConstraints, critical: true, value: der.sequence([der.boolean(true)]) } : e,
    ),
  });
  minted(
    'LEAF_CERT_INVALID',
    'leaf-is-ca',
    'The leaf carries basicConstraints cA=TRUE',
    { version: 'EC_v1', signer: { certDer: caLeaf, key: pki.leafEc.key } },
    {
      recipe: 'leaf re-issued from appleLeafSpec with basicConstraints cA=TRUE',
    },
  );

  const interSpec = appleIntermediateSpec({ key: pki.intermediate.key, issuerKey: pki.root.key });
  const unmarkedIntermediate = issueCertificate({
    ...interSpec,
    extensions: interSpec.extensions.filter((e) => e.oid !== OID.appleIntermediateMarker),
  });
  minted(
    'INTERMEDIATE_CERT_INVALID',
    'intermediate-marker-missing',
    'The intermediate lacks marker 1.2.840.113635.100.6.2.14 (otherwise identical)',
    {
      version: 'EC_v1',
      certificates: [pki.leafEc.certDer, unmarkedIntermediate],
    },
    { recipe: 'intermediate re-issued from appleIntermediateSpec without the 1.2.840.113635.100.6.2.14 extension' },
  );
  minted('INTERMEDIATE_CERT_INVALID', 'intermediate-replaced-by-wwdr', 'The WWDR look-alike CA in place of the intermediate', {
    version: 'EC_v1',
    certificates: [pki.leafEc.certDer, pki.wwdr.certDer],
  });
  const notCa = issueCertificate({
    ...interSpec,
    extensions: interSpec.extensions.map((e) =>
      e.oid === OID.basicConstraints ? { oid: OID.basicConstraints, critical: true, value: der.sequence([]) } : e,
    ),
  });
  minted('INTERMEDIATE_CERT_INVALID', 'intermediate-not-ca', 'The intermediate with basicConstraints cA=FALSE', {
    version: 'EC_v1',
    certificates: [pki.leafEc.certDer, notCa],
  });

  const secondIntermediate = issueCertificate(appleIntermediateSpec({ key: pki.wwdr.key, issuerKey: pki.root.key }));
  minted(
    'SIGNATURE_MALFORMED',
    'two-intermediate-markers',
    'A third certificate (a second marked intermediate): refused on sight',
    {
      version: 'EC_v1',
      certificates: [pki.leafEc.certDer, pki.intermediate.certDer, secondIntermediate],
    },
    { recipe: 'second intermediate issued from appleIntermediateSpec on the WWDR key, signed by the test root' },
  );

  minted(
    'CHAIN_UNTRUSTED',
    'foreign-root-with-apple-names',
    "A test-PKI token checked against the real bundled Apple Root CA - G3: the test root only copies Apple's names",
    {
      version: 'EC_v1',
    },
    { root: 'apple' },
  );
  minted(
    'SIGNATURE_MALFORMED',
    'foreign-root-included-in-token',
    'The test root included in the CMS as a third certificate: refused on sight (bundled Apple root configured)',
    {
      version: 'EC_v1',
      certificates: [pki.leafEc.certDer, pki.intermediate.certDer, pki.root.certDer],
    },
    { root: 'apple' },
  );
  const foreignLeaf = issueCertificate(appleLeafSpec({ kind: 'EC', key: pki.leafEc.key, issuerKey: pki.wwdr.key }));
  minted('CHAIN_UNTRUSTED', 'leaf-signed-by-another-ca', "A marked leaf naming the intermediate as issuer, signed by the WWDR CA's key", {
    version: 'EC_v1',
    signer: { certDer: foreignLeaf, key: pki.leafEc.key },
  });
  const foreignIntermediate = issueCertificate(appleIntermediateSpec({ key: pki.intermediate.key, issuerKey: pki.wwdr.key }));
  minted(
    'CHAIN_UNTRUSTED',
    'intermediate-signed-by-another-ca',
    "A marked intermediate naming the root as issuer, signed by the WWDR CA's key",
    {
      version: 'EC_v1',
      certificates: [pki.leafEc.certDer, foreignIntermediate],
    },
  );

  minted(
    'CERT_EXPIRED',
    'signed-before-leaf-valid',
    "Signed on 2023-12-31, before the leaf's notBefore (2024-01-01)",
    {
      version: 'EC_v1',
      signingTime: new Date('2023-12-31T23:59:00Z'),
    },
    { now: new Date('2023-12-31T23:59:05Z') },
  );
  const expiredLeaf = issueCertificate(
    appleLeafSpec({ kind: 'EC', key: pki.leafEc.key, issuerKey: pki.intermediate.key, notAfter: later(T0, -1) }),
  );
  minted(
    'CERT_EXPIRED',
    'leaf-expired-at-signing',
    'The leaf expired 1 s before the signing time',
    {
      version: 'EC_v1',
      signer: { certDer: expiredLeaf, key: pki.leafEc.key },
    },
    { recipe: 'leaf re-issued from appleLeafSpec with notAfter = signingTime - 1 s' },
  );
  const expiredIntermediate = issueCertificate(
    appleIntermediateSpec({ key: pki.intermediate.key, issuerKey: pki.root.key, notAfter: later(T0, -1) }),
  );
  minted(
    'CERT_EXPIRED',
    'intermediate-expired-at-signing',
    'The intermediate expired 1 s before the signing time',
    {
      version: 'EC_v1',
      certificates: [pki.leafEc.certDer, expiredIntermediate],
    },
    { recipe: 'intermediate re-issued from appleIntermediateSpec with notAfter = signingTime - 1 s' },
  );
}

// ---------------------------------------------------------------------------
// Merchant key, ephemeral key, decryption, payload

minted('MERCHANT_KEY_NOT_FOUND', 'unconfigured-merchant', 'Encrypted to the rotated key, which is not configured', {
  version: 'EC_v1',
  merchant: 'ecRotated',
});
minted('MERCHANT_KEY_NOT_FOUND', 'rsa-hash-on-ec-token', "An EC_v1 token naming the RSA merchant's publicKeyHash", {
  version: 'EC_v1',
  publicKeyHashOverride: pki.merchants.rsa.publicKeyHash,
});
minted('MERCHANT_KEY_NOT_FOUND', 'unknown-hash', 'publicKeyHash of no certificate at all', {
  version: 'EC_v1',
  publicKeyHashOverride: sha256('no such key'),
});

{
  const E = 'EPHEMERAL_KEY_INVALID';
  const valid = unb64(mint('ephemeral-base', { version: 'EC_v1' }).paymentData.header.ephemeralPublicKey);
  const point = valid.subarray(26); // after SEQUENCE, AlgorithmIdentifier(id-ecPublicKey, P-256) and the BIT STRING header: 04 || X || Y
  minted(E, 'off-curve', 'The last byte of Y flipped: not a point on P-256', {
    version: 'EC_v1',
    ephemeralPublicKeyOverride: flipByte(valid, -1),
  });
  const compressed = Buffer.concat([
    Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'),
    Buffer.from([2 + ((point[64] ?? 0) & 1)]),
    point.subarray(1, 33),
  ]);
  minted(E, 'compressed-point', 'The same point in compressed form (33 bytes)', {
    version: 'EC_v1',
    ephemeralPublicKeyOverride: compressed,
  });
  const p384 = seededEcKey('ephemeral-p384', 'P-384');
  minted(E, 'other-curve-p384', 'A P-384 ephemeral key', {
    version: 'EC_v1',
    ephemeralPublicKeyOverride: createPublicKey(p384).export({ type: 'spki', format: 'der' }),
  });
  // P-256 spelled out as explicit ECParameters (SEC 1): OpenSSL accepts it, Apple never sends it.
  const explicitParams = der.sequence([
    der.integer(1),
    der.sequence([
      der.oid('1.2.840.10045.1.1'),
      der.integer(Buffer.from('ffffffff00000001000000000000000000000000ffffffffffffffffffffffff', 'hex')),
    ]),
    der.sequence([
      der.octetString(Buffer.from('ffffffff00000001000000000000000000000000fffffffffffffffffffffffc', 'hex')),
      der.octetString(Buffer.from('5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b', 'hex')),
    ]),
    der.octetString(
      Buffer.from(
        '046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5',
        'hex',
      ),
    ),
    der.integer(Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex')),
    der.integer(1),
  ]);
  const explicitSpki = der.sequence([der.sequence([der.oid('1.2.840.10045.2.1'), explicitParams]), der.bitString(point)]);
  minted(E, 'explicit-curve-parameters', 'The valid point with P-256 given as explicit parameters instead of the named curve', {
    version: 'EC_v1',
    ephemeralPublicKeyOverride: explicitSpki,
  });
  const infinity = der.sequence([
    der.sequence([der.oid('1.2.840.10045.2.1'), der.oid('1.2.840.10045.3.1.7')]),
    der.bitString(Buffer.from([0])),
  ]);
  minted(E, 'point-at-infinity', 'The point at infinity (a single 0x00 octet)', { version: 'EC_v1', ephemeralPublicKeyOverride: infinity });
  minted(E, 'trailing-bytes', 'A valid SPKI followed by two bytes', {
    version: 'EC_v1',
    ephemeralPublicKeyOverride: Buffer.concat([valid, Buffer.alloc(2)]),
  });
  minted(E, 'raw-point-no-spki', 'The bare 65-byte point, not wrapped in a SubjectPublicKeyInfo', {
    version: 'EC_v1',
    ephemeralPublicKeyOverride: Buffer.from(point),
  });
}

{
  const D = 'DECRYPTION_FAILED';
  const base = mint('decryption-base', { version: 'EC_v1' });
  const data = unb64(base.paymentData.data);
  minted(D, 'tampered-tag-signed', 'GCM tag with one bit flipped, then signed: the signature is valid, the tag is not', {
    version: 'EC_v1',
    dataOverride: flipByte(data, -1),
    ephemeralPrivateKey: seededEcKey('decryption-base ephemeral'),
  });
  minted(D, 'tampered-ciphertext-signed', 'Ciphertext with one bit flipped, then signed', {
    version: 'EC_v1',
    dataOverride: flipByte(data, 0),
    ephemeralPrivateKey: seededEcKey('decryption-base ephemeral'),
  });
  minted(D, 'wrong-key-matching-hash', 'Encrypted to the rotated key but naming the configured key by publicKeyHash', {
    version: 'EC_v1',
    merchant: 'ecRotated',
    publicKeyHashOverride: pki.merchants.ec.publicKeyHash,
  });
  minted(
    D,
    'wrong-merchant-identifier',
    "Encrypted to the right key with merchant 'zero''s identifier as Party V: the KDF output differs",
    {
      version: 'EC_v1',
      merchant: { publicKey: pki.merchants.ec.publicKey, identifier: pki.merchants.zero.identifier },
    },
  );
  const rsaBase = mint('decryption-rsa-base', { version: 'RSA_v1' });
  minted(D, 'rsa-tampered-wrapped-key', 'RSA_v1 wrappedKey with one bit flipped, then signed: OAEP fails', {
    version: 'RSA_v1',
    wrappedKeyOverride: flipByte(unb64(rsaBase.paymentData.header.wrappedKey), 10),
  });
  minted(D, 'rsa-wrong-key-matching-hash', "RSA_v1 key wrapped to another RSA-2048 key (the RSA leaf's) but naming the merchant's hash", {
    version: 'RSA_v1',
    merchant: { publicKey: pki.leafRsa.publicKey, identifier: pki.merchants.rsa.identifier },
    publicKeyHashOverride: pki.merchants.rsa.publicKeyHash,
  });
  {
    // A correctly wrapped 24-byte key: the unwrap succeeds, its length does not. The data is AES-192-GCM
    // under that key, so only the key length is wrong.
    const key = sha256('rsa 24-byte key').subarray(0, 24);
    const c = createCipheriv('aes-192-gcm', key, Buffer.alloc(16), { authTagLength: 16 });
    const body = Buffer.concat([c.update(JSON.stringify(defaultPayment())), c.final(), c.getAuthTag()]);
    minted(D, 'rsa-unwrapped-key-24-bytes', 'RSA_v1 wrapping a 24-byte AES key (must be 16)', {
      version: 'RSA_v1',
      symmetricKey: key,
      dataOverride: body,
    });
  }
  minted(D, 'rsa-tampered-tag-signed', 'RSA_v1 GCM tag with one bit flipped, then signed', {
    version: 'RSA_v1',
    dataOverride: flipByte(unb64(mint('decryption-rsa-tag', { version: 'RSA_v1' }).paymentData.data), -1),
    symmetricKey: sha256('decryption-rsa-tag aes').subarray(0, 16),
  });
}

{
  const P = 'PAYLOAD_INVALID';
  minted(P, 'not-json', 'The plaintext is "not json"', { version: 'EC_v1', payment: Buffer.from('not json') });
  minted(P, 'not-utf8', 'The plaintext is not UTF-8', { version: 'EC_v1', payment: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]) });
  minted(P, 'json-array', 'The plaintext is a JSON array', { version: 'EC_v1', payment: Buffer.from('[1,2,3]') });
  minted(P, 'duplicate-key', 'The plaintext has two "transactionAmount" keys', {
    version: 'EC_v1',
    payment: Buffer.from(JSON.stringify(defaultPayment()).replace('{', '{"transactionAmount":1,')),
  });
  const withoutPan = payment3ds();
  delete withoutPan.applicationPrimaryAccountNumber;
  minted(P, 'missing-pan', 'No applicationPrimaryAccountNumber', { version: 'EC_v1', payment: withoutPan });
  minted(P, 'pan-is-number', 'applicationPrimaryAccountNumber is a JSON number', {
    version: 'EC_v1',
    payment: payment3ds({ applicationPrimaryAccountNumber: 4111111111111111 }),
  });
  minted(P, 'bad-expiration-date', 'applicationExpirationDate month 13', {
    version: 'EC_v1',
    payment: payment3ds({ applicationExpirationDate: '311331' }),
  });
  minted(P, 'amount-is-string', 'transactionAmount is a string', { version: 'EC_v1', payment: payment3ds({ transactionAmount: '1999' }) });
  minted(P, 'unknown-payment-data-type', 'paymentDataType "Other"', {
    version: 'EC_v1',
    payment: payment3ds({ paymentDataType: 'Other' }),
  });
  minted(P, 'missing-cryptogram', '3DSecure paymentData without onlinePaymentCryptogram', {
    version: 'EC_v1',
    payment: payment3ds({ paymentData: { eciIndicator: '7' } }),
  });
  minted(P, 'emv-without-emv-data', 'EMV payment without paymentData.emvData', {
    version: 'EC_v1',
    payment: { ...emvPayment, paymentData: { encryptedPINData: '00' } },
  });
  minted(P, 'rsa-missing-pan', 'RSA_v1 payment without applicationPrimaryAccountNumber', { version: 'RSA_v1', payment: withoutPan });
}

// ---------------------------------------------------------------------------
// Replay guard: a memoryReplayGuard (clock = now) in which the listed transactionIds were claimed before

{
  const other = transactionIdFor('replay other token');
  valid(
    'ec-replay-guard-first-use',
    'A verifier with a replay guard accepts a transactionId it has not seen',
    { version: 'EC_v1' },
    {
      replay: { claimed: [] },
    },
  );
  valid(
    'ec-replay-guard-other-id-claimed',
    'A verifier with a replay guard that holds another transactionId accepts this one',
    {
      version: 'EC_v1',
    },
    { replay: { claimed: [other] } },
  );
  const seen = mint('replay-already-claimed', { version: 'EC_v1' });
  add({
    group: 'REPLAY_DETECTED',
    name: 'already-claimed',
    description: "The token's transactionId was claimed by an earlier token within the window",
    token: seen.paymentData,
    merchants: STANDARD,
    root: TEST_ROOT,
    now: NOW,
    replay: { claimed: [seen.expected.transactionId] },
    expected: fail('REPLAY_DETECTED'),
  });
  const upper = mint('replay-upper-case', { version: 'EC_v1', transactionId: transactionIdFor('replay-upper-case').toUpperCase() });
  add({
    group: 'REPLAY_DETECTED',
    name: 'already-claimed-other-case',
    description: 'The same transactionId written in upper case: case does not make it a new transaction',
    token: upper.paymentData,
    merchants: STANDARD,
    root: TEST_ROOT,
    now: NOW,
    replay: { claimed: [upper.expected.transactionId.toLowerCase()] },
    expected: fail('REPLAY_DETECTED'),
  });
  add({
    group: 'REPLAY_STORE_UNAVAILABLE',
    name: 'memory-guard-full',
    description:
      'The memory replay guard is full (maxEntries 1, already holding another id): the claim fails and the token is not accepted',
    token: mint('replay-guard-full', { version: 'EC_v1' }).paymentData,
    merchants: STANDARD,
    root: TEST_ROOT,
    now: NOW,
    replay: { claimed: [other], maxEntries: 1 },
    expected: fail('REPLAY_STORE_UNAVAILABLE'),
  });
}

// ---------------------------------------------------------------------------
// Environment: Apple signs sandbox tokens with a leaf named "ecc-smp-broker-sign_UC4-SANDBOX" under the
// same intermediate and root as production; only the name differs. Same key, issuer and extensions here.

{
  const sandboxLeaf = issueCertificate({
    ...appleLeafSpec({ kind: 'EC', key: pki.leafEc.key, issuerKey: pki.intermediate.key }),
    subject: [
      { type: 'CN', value: 'ecc-smp-broker-sign_UC4-SANDBOX' },
      { type: 'OU', value: 'iOS Systems' },
      { type: 'O', value: 'Apple Inc.' },
      { type: 'C', value: 'US' },
    ],
  });
  const recipe = 'leaf re-issued from appleLeafSpec with subject CN ecc-smp-broker-sign_UC4-SANDBOX, same key, issuer and extensions';
  valid(
    'ec-sandbox-leaf-accepted-by-default',
    "Signed by a leaf named like Apple's sandbox leaf: accepted, since acceptSandbox defaults to true",
    { version: 'EC_v1', signer: { certDer: sandboxLeaf, key: pki.leafEc.key } },
    { recipe },
  );
  minted(
    'SANDBOX_TOKEN_REFUSED',
    'sandbox-leaf-production-only',
    "Signed by a leaf named like Apple's sandbox leaf, verified with acceptSandbox: false",
    { version: 'EC_v1', signer: { certDer: sandboxLeaf, key: pki.leafEc.key } },
    { recipe, options: { acceptSandbox: false } },
  );
}

// ---------------------------------------------------------------------------
// The real tokens in test-vectors/real/, in the same format

interface RealMeta {
  version: string;
  signingTime: string;
  transactionId: string;
  publicKeyHash: string;
  merchantIdHashHex: string;
  environment?: string;
  source_repo: string;
  source_commit: string;
}

function realDrafts(): { set: string; draft: Omit<Draft, 'group' | 'name'> }[] {
  const realDir = join(VECTORS_ROOT, 'real');
  return readdirSync(realDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
    .map((set) => {
      const dir = join(realDir, set);
      const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as RealMeta;
      const readme = readFileSync(join(dir, 'README.txt'), 'utf8');
      const signingTime = new Date(meta.signingTime);
      const testCa = meta.environment?.startsWith('apple-test-ca') ?? false;
      const expected: Vector['expected'] = testCa
        ? { ok: false, code: 'LEAF_CERT_INVALID' }
        : {
            ok: true,
            payment: JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as unknown,
            version: meta.version,
            transactionId: meta.transactionId.toLowerCase(),
            signingTime: signingTime.toISOString(),
            merchantIdentifierHash: meta.merchantIdHashHex.toLowerCase(),
            publicKeyHash: meta.publicKeyHash,
          };
      return {
        set,
        draft: {
          description: testCa
            ? `Real ${meta.version} token signed by Apple's test CA: its certificates lack the marker OIDs and do not chain to Apple Root CA - G3, so it must be rejected`
            : `Real ${meta.version} production token (${set}), verified with the bundled Apple Root CA - G3 five seconds after its signing time`,
          recipe: readme.split('\n')[0] ?? set,
          tokenFile: join(dir, 'token.json'),
          merchants: [{ certificate: join(dir, 'merchant_cert.pem'), privateKey: join(dir, 'merchant_key.TEST-KEY.pem') }],
          root: 'apple',
          now: later(signingTime, 5),
          expected,
        },
      };
    });
}

// ---------------------------------------------------------------------------
// Writing

const posix = (p: string): string => p.split(sep).join('/');

function render(d: Omit<Draft, 'group' | 'name'>, file: string, provenance: Record<string, unknown>): Vector {
  const rel = (abs: string): string => posix(relative(dirname(file), abs));
  const token =
    d.token !== undefined ? { token: d.token } : d.tokenText !== undefined ? { tokenText: d.tokenText } : { tokenFile: rel(d.tokenFile!) };
  return {
    description: d.description,
    provenance,
    ...token,
    merchants: d.merchants.map((m) => ({
      ...(m.certificate === undefined ? {} : { certificate: rel(m.certificate) }),
      privateKey: rel(m.privateKey),
      ...(m.passphrase === undefined ? {} : { passphrase: m.passphrase }),
      ...(m.merchantIdentifier === undefined ? {} : { merchantIdentifier: m.merchantIdentifier }),
    })),
    root: d.root === 'apple' ? 'apple' : rel(d.root),
    now: d.now.toISOString(),
    ...(d.options === undefined ? {} : { options: d.options }),
    ...(d.replay === undefined ? {} : { replay: d.replay }),
    expected: d.expected,
  };
}

function write(file: string, vector: Vector): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(vector, null, 2)}\n`);
}

/** Writes the whole corpus under outRoot (outRoot/vectors/..., outRoot/real/<set>/vector.json); returns the files. */
function generate(outRoot: string): string[] {
  const files: string[] = [];
  const vectorsDir = join(outRoot, 'vectors');
  rmSync(vectorsDir, { recursive: true, force: true });
  for (const d of drafts) {
    const file = join(vectorsDir, d.group === 'valid' ? 'valid' : join('invalid', d.group), `${d.name}.vector.json`);
    write(
      file,
      render(d, file, {
        source: 'generated',
        generator: GENERATOR,
        pki: 'test-vectors/pki (test PKI on public test keys, not issued by Apple)',
        ...(d.recipe === undefined ? {} : { recipe: d.recipe }),
      }),
    );
    files.push(file);
  }
  for (const { set, draft } of realDrafts()) {
    const meta = JSON.parse(readFileSync(join(VECTORS_ROOT, 'real', set, 'meta.json'), 'utf8')) as RealMeta;
    const file = join(outRoot, 'real', set, 'vector.json');
    write(
      file,
      render(draft, file, {
        source: 'real',
        repository: `https://github.com/${meta.source_repo}`,
        commit: meta.source_commit,
        environment: meta.environment ?? 'production',
        summary: draft.recipe,
        details: 'README.txt and meta.json in this folder: source files, licence, how the token was checked independently',
      }),
    );
    files.push(file);
  }
  return files;
}

// ---------------------------------------------------------------------------
// --check: the regenerable contract

/** A vector with paths made absolute and the randomized bytes (signatures, OAEP-wrapped keys) masked. */
function normalize(file: string): unknown {
  const v = JSON.parse(readFileSync(file, 'utf8')) as Vector;
  const abs = (p: string | undefined): string | undefined => (p === undefined || p === 'apple' ? p : resolve(dirname(file), p));
  const mask = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(mask);
    if (typeof value !== 'object' || value === null) return value;
    return Object.fromEntries(
      Object.entries(value).map(([k, x]) => [
        k,
        (k === 'signature' || k === 'wrappedKey') && typeof x === 'string' ? '<randomized>' : mask(x),
      ]),
    );
  };
  return {
    ...v,
    ...(v.token === undefined ? {} : { token: mask(v.token) }),
    ...(v.tokenText === undefined ? {} : { tokenText: v.tokenText.replace(/"(signature|wrappedKey)":"[^"]*"/g, '"$1":"<randomized>"') }),
    ...(v.tokenFile === undefined ? {} : { tokenFile: abs(v.tokenFile) }),
    merchants: v.merchants.map((m) => ({
      ...m,
      privateKey: abs(m.privateKey),
      ...(m.certificate === undefined ? {} : { certificate: abs(m.certificate) }),
    })),
    root: abs(v.root),
  };
}

async function runAll(files: string[], dir: string): Promise<string[]> {
  const failures: string[] = [];
  for (const file of files) {
    const report = await runVector(file, dir);
    if (!report.passed) failures.push(`${report.name}: ${report.reason ?? 'failed'}`);
  }
  return failures;
}

async function check(): Promise<number> {
  const tmp = mkdtempSync(join(tmpdir(), 'applepay-vectors-'));
  try {
    generate(tmp);
    const committed = findVectors(VECTORS_ROOT).filter(
      (f) => f.startsWith(join(VECTORS_ROOT, 'vectors')) || f.startsWith(join(VECTORS_ROOT, 'real')),
    );
    const fresh = findVectors(tmp);
    const key = (root: string) => (f: string) => posix(relative(root, f));
    const committedNames = new Set(committed.map(key(VECTORS_ROOT)));
    const freshNames = new Set(fresh.map(key(tmp)));
    const problems: string[] = [];
    for (const n of freshNames) if (!committedNames.has(n)) problems.push(`${n}: generated but not committed`);
    for (const n of committedNames) if (!freshNames.has(n)) problems.push(`${n}: committed but no longer generated`);
    for (const n of freshNames) {
      if (!committedNames.has(n)) continue;
      if (!isDeepStrictEqual(normalize(join(VECTORS_ROOT, n)), normalize(join(tmp, n))))
        problems.push(`${n}: differs beyond signature/wrappedKey bytes`);
    }
    problems.push(...(await runAll(fresh, tmp)).map((f) => `regenerated ${f}`));
    problems.push(...(await runAll(committed, VECTORS_ROOT)).map((f) => `committed ${f}`));
    for (const p of problems) console.error(p);
    console.log(
      `${fresh.length} vectors regenerated and compared: ${problems.length === 0 ? 'the committed corpus is current' : `${problems.length} problem(s)`}`,
    );
    return problems.length === 0 ? 0 : 1;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { check: { type: 'boolean' }, out: { type: 'string' } }, strict: true });
  if (values.check) return check();
  const outRoot = resolve(values.out ?? VECTORS_ROOT);
  const started = Date.now();
  const files = generate(outRoot);
  const failures = await runAll(files, outRoot);
  for (const f of failures) console.error(`FAIL ${f}`);
  console.log(
    `${files.length} vectors written under ${outRoot} in ${Date.now() - started} ms; ${failures.length} do not give their expected verdict`,
  );
  return failures.length === 0 ? 0 : 1;
}

process.exitCode = await main();
