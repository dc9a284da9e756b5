// `applepay-verify mint`: test tokens for services in any language, from a test PKI directory.
// The PKI and the tokens are TEST ONLY: a verifier with Apple's root refuses every one of them.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Io } from './main.js';
import {
  createTestPki,
  loadTestPki,
  mintToken,
  mutators,
  MUTATOR_CODES,
  PRESET_NAMES,
  type MintTokenOptions,
  type MutatorName,
  type PresetName,
  type TestPki,
} from '../testing/index.js';

export const MINT_USAGE = `Usage:
  applepay-verify mint --init-pki DIR [--merchant-id ID]
  applepay-verify mint --pki DIR [options]

Makes Apple Pay test tokens signed by a TEST ONLY PKI (never by Apple: a verifier with Apple's root
refuses them all). For testing a payment backend in any language.

  --init-pki DIR       create a new test PKI in DIR (root.pem, merchant-ec.pem/.key.pem,
                       merchant-rsa.pem/.key.pem, ..., manifest.json); DIR must not hold one yet
  --merchant-id ID     with --init-pki: the merchant identifier (default merchant.com.example.test)

  --pki DIR            the test PKI to sign with and encrypt to
  --version V          EC_v1 (default) or RSA_v1
  --preset NAME        ${PRESET_NAMES.join(', ')} (default 3DSecure)
  --amount N           transactionAmount, in minor units
  --currency CODE      ISO 4217 numeric currency code, e.g. 840
  --application-data TEXT
                       the payment request's applicationData (the token carries its SHA-256)
  --transaction-id HEX 32 bytes (64 hex digits), default: random
  --signing-time ISO8601
                       default: now
  --merchant NAME      a merchant of the PKI (default: ec for EC_v1, rsa for RSA_v1)
  --wrapper            write Apple Pay JS's { paymentData, paymentMethod, transactionIdentifier }
  --mutate NAME        break the token one way for a negative test; one of:
                       ${Object.keys(MUTATOR_CODES).join(', ')}
  --out FILE           write the token there (default: stdout)
  -h, --help           this text

Configure the service under test with DIR/root.pem as its trust anchor and DIR/merchant-ec.pem and
DIR/merchant-ec.key.pem (EC_v1) or DIR/merchant-rsa.* (RSA_v1) as its merchant certificate and key.
Exit status: 0 done; 2 usage error.
`;

const OPTIONS = {
  'init-pki': { type: 'string' },
  'merchant-id': { type: 'string' },
  pki: { type: 'string' },
  version: { type: 'string' },
  preset: { type: 'string' },
  amount: { type: 'string' },
  currency: { type: 'string' },
  'application-data': { type: 'string' },
  'transaction-id': { type: 'string' },
  'signing-time': { type: 'string' },
  merchant: { type: 'string' },
  wrapper: { type: 'boolean' },
  mutate: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

class MintUsageError extends Error {}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/** Runs `mint` with the arguments after the word "mint"; resolves to the exit status. */
// eslint-disable-next-line @typescript-eslint/require-await -- the CLI's command table awaits every command; minting has no I/O to wait for
export async function mintCommand(argv: readonly string[], io: Io): Promise<number> {
  try {
    return run(argv, io);
  } catch (err) {
    const message = err instanceof MintUsageError ? err.message : `failed: ${err instanceof Error ? err.message : String(err)}`;
    io.stderr(`applepay-verify mint: ${message}\nTry applepay-verify mint --help.\n`);
    return 2;
  }
}

function run(argv: readonly string[], io: Io): number {
  let values: ReturnType<typeof parse>['values'];
  try {
    ({ values } = parse(argv));
  } catch (err) {
    throw new MintUsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) {
    io.stdout(MINT_USAGE);
    return 0;
  }
  if (values['init-pki'] !== undefined) {
    if (values.pki !== undefined) throw new MintUsageError('--init-pki and --pki do not go together');
    const dir = values['init-pki'];
    if (existsSync(join(dir, 'manifest.json')))
      throw new MintUsageError(`${dir} already holds a PKI (manifest.json); choose another directory`);
    const pki = createTestPki(values['merchant-id'] === undefined ? {} : { merchantIdentifier: values['merchant-id'] });
    pki.save(dir);
    io.stderr(
      `applepay-verify mint: wrote a TEST ONLY PKI for ${pki.merchants.ec.identifier} to ${dir}\n` +
        `  trust anchor: ${join(dir, 'root.pem')}\n  EC_v1 merchant: ${join(dir, 'merchant-ec.pem')} + merchant-ec.key.pem\n` +
        `  RSA_v1 merchant: ${join(dir, 'merchant-rsa.pem')} + merchant-rsa.key.pem\n`,
    );
    return 0;
  }
  if (values.pki === undefined) throw new MintUsageError('give --pki DIR (or --init-pki DIR to create one)');
  let pki: TestPki;
  try {
    pki = loadTestPki(values.pki);
  } catch (err) {
    throw new MintUsageError(`cannot read a test PKI in ${values.pki}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const options: MintTokenOptions & { now?: Date } = {};
  if (values.version !== undefined) {
    if (values.version !== 'EC_v1' && values.version !== 'RSA_v1') throw new MintUsageError('--version is EC_v1 or RSA_v1');
    options.version = values.version;
  }
  if (values.preset !== undefined) {
    if (!(PRESET_NAMES as readonly string[]).includes(values.preset))
      throw new MintUsageError(`--preset is one of ${PRESET_NAMES.join(', ')}`);
    options.preset = values.preset as PresetName;
  }
  if (values.amount !== undefined) {
    if (!/^\d{1,15}$/.test(values.amount)) throw new MintUsageError('--amount is a whole number of minor units');
    options.amount = Number(values.amount);
  }
  if (values.currency !== undefined) {
    if (!/^\d{3}$/.test(values.currency)) throw new MintUsageError('--currency is a 3-digit ISO 4217 numeric code');
    options.currencyCode = values.currency;
  }
  if (values['application-data'] !== undefined) options.applicationData = values['application-data'];
  if (values['transaction-id'] !== undefined) {
    // Apple's transactionIds are 32 bytes, and a verifier refuses any other length (TOKEN_MALFORMED).
    if (!/^[0-9a-fA-F]{64}$/.test(values['transaction-id'])) throw new MintUsageError('--transaction-id is 64 hex digits (32 bytes)');
    options.transactionId = values['transaction-id'];
  }
  if (values['signing-time'] !== undefined) {
    const t = new Date(values['signing-time']);
    if (!ISO_INSTANT.test(values['signing-time']) || Number.isNaN(t.getTime())) {
      throw new MintUsageError('--signing-time is an ISO 8601 instant with a time zone');
    }
    options.signingTime = t;
    options.now = t;
  }
  if (values.merchant !== undefined) {
    if (!pki.merchants[values.merchant]) throw new MintUsageError(`the PKI has no merchant ${JSON.stringify(values.merchant)}`);
    options.merchant = values.merchant;
  }
  if (values.wrapper) options.wrapper = true;
  let minted;
  let code: string | undefined;
  if (values.mutate !== undefined) {
    if (!Object.hasOwn(MUTATOR_CODES, values.mutate))
      throw new MintUsageError(`--mutate is one of ${Object.keys(MUTATOR_CODES).join(', ')}`);
    const negative = mutators[values.mutate as MutatorName](pki, options);
    minted = negative;
    code = negative.code;
  } else {
    minted = mintToken(pki, options);
  }
  const text = `${JSON.stringify(minted.token, null, 2)}\n`;
  const summary =
    `${minted.version} token for ${minted.merchantIdentifier}, transactionId ${minted.transactionId}, ` +
    (minted.signingTime === null ? 'no signing time' : `signed ${minted.signingTime.toISOString()}`) +
    (code === undefined ? '' : `; a verifier refuses it with ${code}`);
  if (values.out !== undefined) {
    writeFileSync(values.out, text);
    io.stderr(`applepay-verify mint: wrote ${values.out}: ${summary}\n`);
  } else {
    io.stdout(text);
    io.stderr(`applepay-verify mint: ${summary}\n`);
  }
  return 0;
}

function parse(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: false, strict: true });
}
