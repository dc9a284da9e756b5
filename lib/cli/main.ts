// The applepay-verify command: verifies one token with the library, or runs a test-vector corpus.
// Scripts depend on its interface (flags, exit status, the --json object), so those only ever grow.
//
// Exit status: 0 verified, 1 token rejected, 2 usage or configuration error.
import diagnostics_channel from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AddonLoadError } from '../native/loader.js';
import {
  createVerifier,
  isApplePayError,
  type Payment,
  type Result,
  type Verifier,
  type VerifierOptions,
  type VerifyEvent,
  VERIFY_CHANNEL_NAME,
} from '../index.js';
import { PAYMENT_MEMBERS } from '../steps/payment.js';
import { DEFAULT_VECTORS_DIR, findVectors, runVector, type VectorReport } from '../vectors/index.js';
import { mintCommand } from './mint.js';
import { UsageError, VERIFIER_FLAGS, merchantFiles, parseCommandLine, parseNow, readFileOrUsage } from './common.js';

export const EXIT_VERIFIED = 0;
export const EXIT_REJECTED = 1;
export const EXIT_USAGE = 2;

/** Where the command writes; the bin passes the process streams. */
export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stdin: () => Promise<Buffer>;
  /** True once the reader of stdout has gone away (`applepay-verify vectors | head`): stop producing output. */
  closed?: () => boolean;
}

const USAGE = `Usage:
  applepay-verify [options] <token.json | ->
  applepay-verify vectors [DIR]
  applepay-verify mint --pki DIR [options]   mint a TEST ONLY token (applepay-verify mint --help)
  applepay-verify diagnose [--cert FILE --key FILE ...] [--root FILE] [--now ISO8601] [--json] <token.json>
  applepay-verify keys new|import|check ...   (applepay-verify keys --help)

Verifies and decrypts an Apple Pay payment token (the paymentData object, or Apple Pay JS's
{ paymentData, paymentMethod, transactionIdentifier }) read from a file or, with "-", from stdin.

Options:
  --cert FILE         merchant payment-processing certificate (PEM or DER); repeatable
  --key FILE          merchant private key: PEM/DER (PKCS#8, SEC1, PKCS#1) or PKCS#12 (.p12/.pfx);
                      repeatable, paired with --cert in order (the i-th --key with the i-th --cert);
                      keys beyond the last --cert stand alone: PKCS#12, or with --merchant-id
  --passphrase TEXT   for an encrypted key or a PKCS#12 file (applies to every --key)
  --passphrase-env VAR
                      read the passphrase from environment variable VAR instead: a command
                      line is visible to every user of the machine
  --merchant-id ID    merchant identifier, in place of --cert (with --key)
  --root FILE         trust anchor instead of the bundled Apple Root CA - G3
  --now ISO8601       verification instant, with a time zone (default: the current time)
  --max-age SECONDS   signing-time window (default 300)
  --json              print exactly one JSON object on stdout:
                      {"ok":true,"result":{...}} or {"ok":false,"code":"...","message":"...","details":{...}};
                      the PAN is masked and the cryptogram, EMV data and cardholder name are null
                      unless --reveal
  --reveal            show the full PAN, cryptogram, EMV data and cardholder name
  --verbose           print the time of each step (parse, chain, signature, decrypt, payment) on stderr
  -h, --help          this text
  --version           the package version

Exit status: 0 verified; 1 token rejected; 2 usage or configuration error.
In --json mode a usage error is {"ok":false,"code":"USAGE","message":"..."}.

applepay-verify vectors [DIR]
  Runs every *.vector.json and vector.json under DIR (default: the package's own test-vectors/),
  prints one line per vector and a last line "N passed, M failed"; exits 1 if any fails.

Examples:
  applepay-verify --cert apple_pay.pem --key apple_pay.key token.json
  applepay-verify --key apple_pay.p12 --passphrase-env P12_PASS --json token.json
  curl -s https://shop.example/last-token | applepay-verify --key merchant.key --merchant-id merchant.com.example -
  applepay-verify --cert old.pem --key old.key --cert new.pem --key new.key token.json
  applepay-verify --cert cert.pem --key key.pem --now 2023-03-20T20:47:00Z stored-token.json
  applepay-verify vectors
`;

const SECONDS = /^\d+(?:\.\d+)?$/;
/** Real tokens are 3-6 KB; the library refuses anything over its cap, so reading further is pointless. */
const MAX_INPUT_BYTES = 1024 * 1024 + 1;

const OPTIONS = {
  ...VERIFIER_FLAGS,
  json: { type: 'boolean' },
  reveal: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

/** A file the library would be handed: unreadable means the configuration is wrong, under the library's code for it. */
function readConfigFile(path: string, code: 'MERCHANT_CERT_INVALID' | 'MERCHANT_KEY_INVALID' | 'ROOT_CERT_INVALID', what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigFileError(code, `cannot read ${what} ${JSON.stringify(path)} (${reason})`);
  }
}

class ConfigFileError extends Error {
  constructor(
    readonly code: 'MERCHANT_CERT_INVALID' | 'MERCHANT_KEY_INVALID' | 'ROOT_CERT_INVALID',
    message: string,
  ) {
    super(message);
  }
}

function verifierOptions(values: Values): VerifierOptions {
  const merchants = merchantFiles(values, true, (path, flag) =>
    readConfigFile(path, flag === '--key' ? 'MERCHANT_KEY_INVALID' : 'MERCHANT_CERT_INVALID', flag),
  ).map((f) => f.options);
  const options: VerifierOptions = { merchants };
  if (values.root !== undefined) options.rootCertificate = readConfigFile(values.root, 'ROOT_CERT_INVALID', '--root');
  if (values['max-age'] !== undefined) {
    if (!SECONDS.test(values['max-age'])) throw new UsageError('--max-age takes a number of seconds');
    options.maxSignatureAge = Number(values['max-age']);
  }
  return options;
}

// ---------------------------------------------------------------------------
// Output

function jsonResult(result: Result, reveal: boolean): Record<string, unknown> {
  return {
    version: result.version,
    transactionId: result.transactionId,
    signingTime: result.signingTime.toISOString(),
    ...(result.applicationData === undefined ? {} : { applicationData: result.applicationData }),
    merchantIdentifierHash: result.merchantIdentifierHash,
    publicKeyHash: result.publicKeyHash,
    payment: reveal ? result.payment : maskedPayment(result.payment),
    masked: !reveal,
  };
}

/**
 * The payment as --json prints it without --reveal: the same shape, the PAN cut to its last four digits
 * and every secret value (cryptogram, EMV data, PIN block, cardholder name, fields Apple adds later) null.
 */
function maskedPayment(p: Payment): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(p)) {
    if (key === 'applicationPrimaryAccountNumber') out[key] = maskPan(String(value));
    else if (key === 'paymentData')
      out[key] = Object.fromEntries(
        Object.keys(value as object).map((k) => [k, k === 'eciIndicator' ? (value as Record<string, unknown>)[k] : null]),
      );
    else if (key === 'cardholderName' || !KNOWN_PAYMENT_FIELDS.has(key)) out[key] = null;
    else out[key] = value;
  }
  return out;
}

function maskPan(pan: string): string {
  return pan.length <= 4 ? '*'.repeat(pan.length) : `${'*'.repeat(pan.length - 4)}${pan.slice(-4)}`;
}

const HIDDEN = '(hidden; --reveal to show)';
const KNOWN_PAYMENT_FIELDS = new Set(PAYMENT_MEMBERS);

/** A readable summary. Without --reveal no PAN (beyond its last four digits), cryptogram, EMV data or name is printed. */
function humanSummary(result: Result, reveal: boolean): string {
  const p: Payment = result.payment;
  const lines: [string, string][] = [];
  const row = (label: string, value: string): void => {
    lines.push([label, value]);
  };
  const secret = (value: unknown): string => (reveal ? String(value) : HIDDEN);
  row('version', result.version);
  row('transaction id', result.transactionId);
  row('signed at', result.signingTime.toISOString());
  row('application data', result.applicationData ?? '(none)');
  row('merchant id hash', result.merchantIdentifierHash);
  row('public key hash', result.publicKeyHash);
  row('payment type', p.paymentDataType);
  row('account number', reveal ? p.applicationPrimaryAccountNumber : maskPan(p.applicationPrimaryAccountNumber));
  row('expires (YYMMDD)', p.applicationExpirationDate);
  row('amount', `${p.transactionAmount} (currency ${p.currencyCode}, minor units)`);
  if (p.cardholderName !== undefined) row('cardholder name', secret(p.cardholderName));
  row('device', p.deviceManufacturerIdentifier);
  if (p.paymentDataType === '3DSecure') {
    row('cryptogram', secret(p.paymentData.onlinePaymentCryptogram));
    if (p.paymentData.eciIndicator !== undefined) row('eci indicator', p.paymentData.eciIndicator);
  } else {
    row('emv data', secret(p.paymentData.emvData));
    if (p.paymentData.encryptedPINData !== undefined) row('encrypted PIN data', secret(p.paymentData.encryptedPINData));
  }
  if (p.merchantTokenIdentifier !== undefined) row('merchant token id', p.merchantTokenIdentifier);
  if (p.merchantTokenMetadata !== undefined) row('merchant token metadata', JSON.stringify(p.merchantTokenMetadata));
  if (p.authenticationResponses !== undefined) row('authentication responses', String(p.authenticationResponses.length));
  // Fields Apple adds later: named, but their values stay out of sight unless asked for.
  for (const key of Object.keys(p).filter((k) => !KNOWN_PAYMENT_FIELDS.has(k))) row(key, secret(JSON.stringify(p[key])));
  const width = Math.max(...lines.map(([label]) => label.length)) + 2;
  return `verified\n${lines.map(([label, value]) => `  ${label.padEnd(width)}${value}`).join('\n')}\n`;
}

// ---------------------------------------------------------------------------
// Input

/**
 * Files that are plainly not a token, named, so that a certificate or key given in the token's place
 * is not answered with a parse error. Anything JSON-like goes to the library, which judges it.
 */
function notATokenReason(bytes: Buffer): string | null {
  const text = bytes.subarray(0, 4096).toString('latin1');
  const trimmed = text.replace(/^\uFEFF/, '').trimStart();
  if (bytes.length === 0 || trimmed === '') return 'is empty: expected an Apple Pay token (JSON)';
  const pem = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text);
  if (pem !== null) {
    // The label is not quoted back: output never carries a key file's text, not even its armour.
    const label = pem[1]!;
    const kind = /PRIVATE KEY/.test(label)
      ? 'a private key in PEM form (give it with --key)'
      : /CERTIFICATE/.test(label)
        ? 'a certificate in PEM form (give it with --cert or --root)'
        : 'a PEM file';
    return `is ${kind}, not an Apple Pay token: the token is the paymentData JSON`;
  }
  if (bytes[0] === 0x30)
    return 'is binary DER (a certificate, key or PKCS#12 file?), not an Apple Pay token: the token is the paymentData JSON';
  if (trimmed[0] !== '{' && trimmed[0] !== '"') return 'is not JSON: expected an Apple Pay token (the paymentData object)';
  return null;
}

// ---------------------------------------------------------------------------
// Commands

async function verifyCommand(values: Values, positionals: string[], io: Io): Promise<number> {
  if (positionals.length !== 1)
    throw new UsageError(positionals.length === 0 ? 'no token file given (use "-" for stdin)' : 'give exactly one token file');
  const input = positionals[0]!;
  const now = parseNow(values.now);
  const json = values.json === true;

  let verifier: Verifier;
  let options: VerifierOptions | undefined;
  try {
    options = verifierOptions(values);
    verifier = createVerifier(options);
  } catch (err) {
    if (err instanceof ConfigFileError || (isApplePayError(err) && !(err instanceof AddonLoadError))) {
      const { message, details } = inFlagTerms(err, values);
      report(io, json, err.code, message, 'configuration error', details);
      return EXIT_USAGE;
    }
    throw err;
  } finally {
    // The verifier holds its own copy inside the addon; ours need not outlive it.
    for (const m of options === undefined ? [] : [options.merchants].flat()) {
      if (m.privateKey instanceof Uint8Array) m.privateKey.fill(0);
    }
  }

  const token = input === '-' ? await io.stdin() : readFileOrUsage(input, 'token file');
  const notToken = notATokenReason(token);
  if (notToken !== null) throw new UsageError(`${input === '-' ? 'stdin' : JSON.stringify(input)} ${notToken}`);
  // The library publishes each verification's step timings; listening is all --verbose needs.
  const timings = (message: unknown): void => io.stderr(stepTimings(message as VerifyEvent));
  if (values.verbose === true) diagnostics_channel.subscribe(VERIFY_CHANNEL_NAME, timings);
  try {
    const result = await verifier.verifyAndDecrypt(token, now === undefined ? {} : { now });
    if (json) io.stdout(`${JSON.stringify({ ok: true, result: jsonResult(result, values.reveal === true) })}\n`);
    else io.stdout(humanSummary(result, values.reveal === true));
    return EXIT_VERIFIED;
  } catch (err) {
    if (!isApplePayError(err)) throw err;
    if (err instanceof AddonLoadError) throw err;
    const details = { ...err.details };
    report(io, json, err.code, `${err.message}${rejectionHint(err.code, details, values)}`, 'rejected', details);
    return EXIT_REJECTED;
  } finally {
    if (values.verbose === true) diagnostics_channel.unsubscribe(VERIFY_CHANNEL_NAME, timings);
  }
}

function stepTimings(event: VerifyEvent): string {
  const steps = Object.entries(event.steps).map(([step, ms]) => `${step} ${ms.toFixed(3)} ms`);
  return `applepay-verify: ${event.code} in ${event.durationMs.toFixed(3)} ms (${steps.join(', ')})\n`;
}

function report(io: Io, json: boolean, code: string, message: string, what: string, details: Record<string, unknown> = {}): void {
  if (json) io.stdout(`${JSON.stringify({ ok: false, code, message, details })}\n`);
  else io.stderr(`applepay-verify: ${what}: ${code}: ${message}\n`);
}

/**
 * The library names configuration by option (merchants[1].privateKey); the command's user gave flags.
 * Every option path in the message becomes the flag and file it came from, and details gain `flag`.
 */
function inFlagTerms(err: { message: string; details?: object }, values: Values): { message: string; details: Record<string, unknown> } {
  const certs = values.cert ?? [];
  const keys = values.key ?? [];
  const named = (flag: string, files: readonly string[], i: number): string => (files[i] === undefined ? flag : `${flag} ${files[i]}`);
  const flagOf = (i: number, option: string | undefined): string => {
    switch (option) {
      case 'certificate':
        return named('--cert', certs, i);
      case 'merchantIdentifier':
        return '--merchant-id';
      case 'passphrase':
        return values['passphrase-env'] === undefined ? '--passphrase' : '--passphrase-env';
      default:
        return named('--key', keys, i);
    }
  };
  const message = err.message
    .replace(/merchants\[(\d+)\](?:\.(\w+))?/g, (_m, i: string, option: string | undefined) => flagOf(Number(i), option))
    .replace(/\brootCertificate\b/g, '--root')
    .replace(/\bmaxSignatureAge\b/g, '--max-age');
  const details: Record<string, unknown> = { ...(err.details ?? {}) };
  const field = typeof details.field === 'string' ? details.field : undefined;
  const m = field === undefined ? null : /^merchants\[(\d+)\](?:\.(\w+))?$/.exec(field);
  if (m !== null) details.flag = flagOf(Number(m[1]), m[2]).split(' ')[0];
  else if (field === 'rootCertificate') details.flag = '--root';
  else if (field === 'maxSignatureAge') details.flag = '--max-age';
  return { message, details };
}

/** What to do about a rejection, where the command knows better than the library's message. */
function rejectionHint(code: string, details: Record<string, unknown>, values: Values): string {
  const signed = typeof details.signingTime === 'string' ? details.signingTime : undefined;
  if (signed === undefined || (code !== 'SIGNING_TIME_TOO_OLD' && code !== 'SIGNING_TIME_IN_FUTURE')) return '';
  const at = new Date(Date.parse(signed) + 5000).toISOString();
  const now = values.now === undefined ? 'against the current time' : `at --now ${values.now}`;
  return (
    ` (signed at ${signed}, checked ${now}; a stored token verifies as of its signing time with --now ${at}` +
    `${code === 'SIGNING_TIME_TOO_OLD' ? ', or within a wider window with --max-age' : ''})`
  );
}

function vectorLine(r: VectorReport): string {
  if (r.passed) return `PASS  ${r.name}  ${r.expected}\n`;
  return `FAIL  ${r.name}  ${r.reason ?? `expected ${r.expected}, got ${r.actual}`}\n`;
}

async function vectorsCommand(values: Values, positionals: string[], io: Io): Promise<number> {
  const used = Object.keys(values).filter((k) => k !== 'json');
  if (used.length > 0) throw new UsageError(`vectors takes no --${used[0]}`);
  if (positionals.length > 2) throw new UsageError('vectors takes at most one directory');
  const dir = positionals[1] ?? DEFAULT_VECTORS_DIR;
  let files: string[];
  try {
    files = findVectors(dir);
  } catch (err) {
    throw new UsageError(
      `cannot read the vector directory ${JSON.stringify(dir)} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
  if (files.length === 0) throw new UsageError(`no *.vector.json or vector.json files under ${JSON.stringify(dir)}`);
  const reports: VectorReport[] = [];
  for (const file of files) {
    if (io.closed?.() === true) break;
    const r = await runVector(file, dir);
    reports.push(r);
    if (values.json !== true) io.stdout(vectorLine(r));
  }
  const failed = reports.filter((r) => !r.passed).length;
  const passed = reports.length - failed;
  if (values.json === true) {
    const vectors = reports.map((r) => ({
      name: r.name,
      passed: r.passed,
      expected: r.expected,
      actual: r.actual,
      ...(r.reason === undefined ? {} : { reason: r.reason }),
    }));
    io.stdout(`${JSON.stringify({ ok: failed === 0, passed, failed, vectors })}\n`);
  } else {
    io.stdout(`${passed} passed, ${failed} failed\n`);
  }
  return failed === 0 ? EXIT_VERIFIED : EXIT_REJECTED;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return String(pkg.version);
}

/** Runs the command; resolves to the exit status. Never throws for bad input. */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  // Known before parsing, so that even a bad flag is answered in the format the caller asked for.
  const json = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : argv.length).includes('--json');
  try {
    if (argv[0] === 'mint') return await mintCommand(argv.slice(1), io);
    if (argv[0] === 'keys') return await (await import('./keys.js')).keysMain(argv.slice(1), io);
    if (argv[0] === 'diagnose') return await (await import('./diagnose.js')).diagnoseMain(argv.slice(1), io);
    const { values, positionals } = parseCommandLine(argv, OPTIONS);
    if (values.help === true) {
      io.stdout(USAGE);
      return EXIT_VERIFIED;
    }
    if (values.version === true) {
      io.stdout(`${packageVersion()}\n`);
      return EXIT_VERIFIED;
    }
    if (positionals[0] === 'vectors') return await vectorsCommand(values, positionals, io);
    return await verifyCommand(values, positionals, io);
  } catch (err) {
    if (err instanceof AddonLoadError) {
      report(io, json, err.code, err.message, 'cannot run');
      return EXIT_USAGE;
    }
    if (err instanceof UsageError) {
      if (json) io.stdout(`${JSON.stringify({ ok: false, code: 'USAGE', message: err.message })}\n`);
      else io.stderr(`applepay-verify: ${err.message}\nTry applepay-verify --help.\n`);
      return EXIT_USAGE;
    }
    // A fault, not a verdict: say so without echoing a third-party message that might quote input.
    const message = 'internal error';
    if (json) io.stdout(`${JSON.stringify({ ok: false, code: 'INTERNAL', message })}\n`);
    else io.stderr(`applepay-verify: ${message}\n`);
    return EXIT_USAGE;
  }
}

function processIo(): Io {
  // A reader that goes away (`| head`) makes the next write fail with EPIPE, as an 'error' event that
  // would otherwise end the process with a stack trace. Stop writing instead: the command ends
  // quietly, with the exit status of what it did.
  let closed = false;
  const onError = (err: NodeJS.ErrnoException): void => {
    if (err.code !== 'EPIPE') throw err;
    closed = true;
  };
  process.stdout.on('error', onError);
  process.stderr.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  return {
    closed: () => closed,
    stdout: (text) => {
      if (!closed) process.stdout.write(text);
    },
    stderr: (text) => process.stderr.write(text),
    stdin: async () => {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of process.stdin) {
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
        chunks.push(buf);
        size += buf.length;
        if (size >= MAX_INPUT_BYTES) break;
      }
      return Buffer.concat(chunks).subarray(0, MAX_INPUT_BYTES);
    },
  };
}
