// `applepay-verify keys new|import|check`: the Payment Processing key's life cycle on the command line.
// Exit status: 0 done / all fine; 1 a problem was found (refused import, key ring needs attention);
// 2 usage error. Private keys are written with mode 0600 and never printed.
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Io } from './main.js';
import { EXIT_FAILED, EXIT_OK, UsageError, failureExit, parseCommandLine, parseNow, readFileOrUsage, readPassphrase } from './common.js';
import { isNativeError, native } from '../native/binding.js';
import {
  buildPkcs12,
  certificateProblems,
  checkMerchantIdentifier,
  keyProblem,
  newKeyAndCsr,
  readCertificate,
  readPrivateKey,
  spkiOf,
  summarize,
  type CertificateSummary,
  type KeyProblem,
  type KeyProblemCode,
} from '../keys/keys.js';

export const KEYS_USAGE = `applepay-verify keys new --merchant-id ID --out DIR [--rsa] [--email ADDRESS] [--json]
  Creates a Payment Processing key (EC P-256; RSA-2048 with --rsa) and the CSR to upload to Apple:
  DIR/<ID>.key.pem (mode 0600) and DIR/<ID>.csr.pem. Never overwrites a file.

applepay-verify keys import --cert apple_pay.cer --key KEY [--out DIR] [--p12 --passphrase-env VAR] [--json]
  Checks the certificate Apple returned (DER or PEM): a Payment Processing certificate (a Merchant
  Identity certificate is refused), belonging to KEY; prints merchant id, publicKeyHash and validity;
  with --out writes DIR/<ID>.cert.pem, and with --p12 also DIR/<ID>.p12 (mode 0600) protected by the
  passphrase from --passphrase-env (or --passphrase), which also unlocks an encrypted KEY.

applepay-verify keys check --cert C --key K [--cert C --key K ...] [--warn-days N] [--now ISO8601] [--json]
  The key ring as a table: merchant id, publicKeyHash, type, expiry, days left. Exits 1 when a pair
  does not match, a certificate is not a Payment Processing one, or one expires within N days (30).

--cert, --key, --passphrase(-env), --now and --json mean what they mean for verifying.
`;

const OPTIONS = {
  'merchant-id': { type: 'string' },
  out: { type: 'string' },
  rsa: { type: 'boolean' },
  email: { type: 'string' },
  cert: { type: 'string', multiple: true },
  key: { type: 'string', multiple: true },
  passphrase: { type: 'string' },
  'passphrase-env': { type: 'string' },
  p12: { type: 'boolean' },
  'warn-days': { type: 'string' },
  now: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

/** Problems that stop an import; the others are warnings. */
const BLOCKING: ReadonlySet<KeyProblemCode> = new Set([
  'CERT_UNREADABLE',
  'NOT_APPLE_PAY_CERTIFICATE',
  'MERCHANT_IDENTITY_CERTIFICATE',
  'MERCHANT_ID_MISMATCH',
  'UNSUPPORTED_KEY',
  'KEY_UNREADABLE',
  'KEY_MISMATCH',
  'EXPIRED',
]);

function only(values: Values, allowed: readonly string[], command: string): void {
  for (const k of Object.keys(values)) {
    if (!allowed.includes(k) && k !== 'json' && k !== 'help') throw new UsageError(`keys ${command} takes no --${k}`);
  }
}

function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new UsageError(
      `cannot create the directory ${JSON.stringify(dir)} (${(err as NodeJS.ErrnoException).code ?? 'not a directory'})`,
    );
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Created with its final mode in one call ('wx': never over an existing file, never widened later). */
function writeNew(path: string, data: string | Uint8Array, mode: number): void {
  try {
    writeFileSync(path, data, { mode, flag: 'wx' });
  } catch (err) {
    throw new UsageError(`cannot write ${JSON.stringify(path)} (${(err as NodeJS.ErrnoException).code ?? 'unwritable'})`);
  }
}

function refuseExisting(paths: readonly string[]): void {
  const there = paths.filter(exists);
  if (there.length > 0)
    throw new UsageError(
      `${there.map((p) => JSON.stringify(p)).join(', ')} already exist(s): choose another --out (keys are never overwritten)`,
    );
}

const safeName = (id: string): string => id.replace(/[^A-Za-z0-9._-]/g, '_');

function summaryJson(s: CertificateSummary | null): Record<string, unknown> {
  if (s === null) return { merchantIdentifier: null, publicKeyHash: null, type: null, notBefore: null, notAfter: null, daysLeft: null };
  return {
    merchantIdentifier: s.merchantIdentifier,
    publicKeyHash: s.publicKeyHash,
    type: s.type,
    notBefore: s.notBefore.toISOString(),
    notAfter: s.notAfter.toISOString(),
    daysLeft: s.daysLeft,
  };
}

function problemLines(problems: readonly KeyProblem[]): string {
  return problems.map((p) => `  ${BLOCKING.has(p.code) ? 'problem' : 'warning'} ${p.code}: ${p.message}\n`).join('');
}

// ---------------------------------------------------------------------------

function newCommand(values: Values, io: Io): number {
  only(values, ['merchant-id', 'out', 'rsa', 'email'], 'new');
  const id = values['merchant-id'];
  if (id === undefined) throw new UsageError('keys new needs --merchant-id (e.g. merchant.com.example.shop)');
  const bad = checkMerchantIdentifier(id);
  if (bad !== null) throw new UsageError(bad);
  if (values.out === undefined) throw new UsageError('keys new needs --out DIR');
  if (values.email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(values.email)) throw new UsageError('--email takes an email address');
  ensureDir(values.out);
  const keyPath = join(values.out, `${safeName(id)}.key.pem`);
  const csrPath = join(values.out, `${safeName(id)}.csr.pem`);
  refuseExisting([keyPath, csrPath]);
  const made = newKeyAndCsr(id, values.rsa === true ? 'rsa' : 'ec', values.email);
  writeNew(keyPath, made.keyPem, 0o600);
  writeNew(csrPath, made.csrPem, 0o644);
  if (values.json === true) {
    io.stdout(
      `${JSON.stringify({
        ok: true,
        command: 'new',
        key: keyPath,
        csr: csrPath,
        certificate: null,
        merchantIdentifier: id,
        publicKeyHash: made.publicKeyHash,
        type: made.type,
        notBefore: null,
        notAfter: null,
        problems: [],
      })}\n`,
    );
  } else {
    io.stdout(
      `created an ${made.type === 'ec' ? 'EC P-256' : 'RSA-2048'} Payment Processing key for ${id}\n` +
        `  key             ${keyPath} (mode 0600: keep it secret, back it up)\n` +
        `  csr             ${csrPath}\n` +
        `  publicKeyHash   ${made.publicKeyHash} (tokens will name this key by it)\n\n` +
        `Next: upload the CSR in Apple's developer portal (Merchant IDs > ${id} > Apple Pay Payment Processing\n` +
        `Certificate > Create Certificate), download the certificate, then:\n` +
        `  applepay-verify keys import --cert apple_pay.cer --key ${keyPath} --out ${values.out}\n` +
        `Configure the new key next to the current one before you activate it in the portal.\n`,
    );
  }
  return EXIT_OK;
}

function importCommand(values: Values, io: Io): number {
  only(values, ['cert', 'key', 'out', 'p12', 'passphrase', 'passphrase-env', 'now'], 'import');
  const certs = values.cert ?? [];
  const keys = values.key ?? [];
  if (certs.length !== 1 || keys.length !== 1) throw new UsageError('keys import takes one --cert and one --key');
  if (values.p12 === true && values.out === undefined) throw new UsageError('--p12 writes into --out DIR: give --out');
  const passphrase = readPassphrase(values);
  if (values.p12 === true && (passphrase === undefined || passphrase.length < 8)) {
    throw new UsageError('--p12 needs a passphrase of at least 8 characters (--passphrase-env VAR)');
  }
  const now = parseNow(values.now) ?? new Date();
  const certBytes = readFileOrUsage(certs[0]!, '--cert');
  const keyBytes = readFileOrUsage(keys[0]!, '--key');
  try {
    const cert = readCertificate(certBytes);
    let summary: CertificateSummary | null = null;
    const problems: KeyProblem[] = [];
    if ('code' in cert) {
      problems.push(cert);
    } else {
      summary = summarize(cert, now);
      problems.push(...certificateProblems(cert, now, 30));
      if (!problems.some((p) => p.code === 'MERCHANT_IDENTITY_CERTIFICATE' || p.code === 'NOT_APPLE_PAY_CERTIFICATE')) {
        const kp = keyProblem(cert, keyBytes, passphrase);
        if (kp !== null) problems.push(kp);
      }
    }
    const refused = problems.some((p) => BLOCKING.has(p.code));
    let certificatePath: string | null = null;
    let p12Path: string | null = null;
    if (!refused && values.out !== undefined && summary !== null && !('code' in cert)) {
      ensureDir(values.out);
      const base = safeName(summary.merchantIdentifier ?? summary.publicKeyHash.replace(/[^A-Za-z0-9]/g, '').slice(0, 16));
      certificatePath = join(values.out, `${base}.cert.pem`);
      p12Path = values.p12 === true ? join(values.out, `${base}.p12`) : null;
      refuseExisting(p12Path === null ? [certificatePath] : [certificatePath, p12Path]);
      let p12: Buffer | null = null;
      if (p12Path !== null) {
        const key = readPrivateKey(keyBytes, passphrase);
        if (key === null || !spkiOf(key).equals(cert.spki)) {
          throw new UsageError('--p12 needs the PEM or DER private key (as keys new writes it), not a PKCS#12 file');
        }
        p12 = buildPkcs12(cert.der, key, passphrase!, `Apple Pay Payment Processing:${summary.merchantIdentifier ?? ''}`);
      }
      writeNew(
        certificatePath,
        `-----BEGIN CERTIFICATE-----\n${cert.der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`,
        0o644,
      );
      if (p12 !== null) writeNew(p12Path!, p12, 0o600);
    }
    if (values.json === true) {
      io.stdout(
        `${JSON.stringify({
          ok: !refused,
          command: 'import',
          key: keys[0],
          csr: null,
          certificate: certificatePath,
          ...(p12Path === null ? {} : { p12: p12Path }),
          ...summaryJson(summary),
          problems,
        })}\n`,
      );
    } else {
      const head = refused
        ? `refused: ${certs[0]} cannot be used to decrypt Apple Pay tokens with ${keys[0]}\n`
        : `ok: a Payment Processing certificate for ${summary?.merchantIdentifier ?? '(unknown merchant)'}\n`;
      const facts =
        summary === null
          ? ''
          : `  merchant id     ${summary.merchantIdentifier ?? '(none)'}\n  publicKeyHash   ${summary.publicKeyHash}\n  type            ${summary.type}\n  valid           ${summary.notBefore.toISOString()} .. ${summary.notAfter.toISOString()} (${summary.daysLeft} days left)\n`;
      const written = `${certificatePath === null ? '' : `  wrote           ${certificatePath}\n`}${p12Path === null || certificatePath === null ? '' : `  wrote           ${p12Path} (mode 0600)\n`}`;
      (refused ? io.stderr : io.stdout)(`${head}${facts}${problemLines(problems)}${written}`);
    }
    return refused ? EXIT_FAILED : EXIT_OK;
  } finally {
    keyBytes.fill(0);
  }
}

interface Row {
  certificate: string | null;
  key: string;
  summary: CertificateSummary | null;
  problems: KeyProblem[];
}

function checkOne(certPath: string | undefined, keyPath: string, passphrase: string | undefined, now: Date, warnDays: number): Row {
  const keyBytes = readFileOrUsage(keyPath, '--key');
  try {
    let certBytes: Uint8Array | null = certPath === undefined ? null : readFileOrUsage(certPath, '--cert');
    if (certBytes === null) {
      // A PKCS#12 key carries its certificate, as for verifying.
      try {
        certBytes = native.importKey(keyBytes, passphrase === undefined ? null : Buffer.from(passphrase, 'utf8')).certificate;
      } catch (err) {
        if (!isNativeError(err)) throw err;
        return {
          certificate: null,
          key: keyPath,
          summary: null,
          problems: [{ code: 'KEY_UNREADABLE', message: 'the key could not be read (not PEM, DER or PKCS#12, or a wrong passphrase)' }],
        };
      }
      if (certBytes === null) {
        return {
          certificate: null,
          key: keyPath,
          summary: null,
          problems: [{ code: 'CERT_UNREADABLE', message: 'no certificate: give --cert for this key' }],
        };
      }
    }
    const cert = readCertificate(certBytes);
    if ('code' in cert) return { certificate: certPath ?? null, key: keyPath, summary: null, problems: [cert] };
    const problems = certificateProblems(cert, now, warnDays);
    if (!problems.some((p) => p.code === 'MERCHANT_IDENTITY_CERTIFICATE' || p.code === 'NOT_APPLE_PAY_CERTIFICATE')) {
      const kp = keyProblem(cert, keyBytes, passphrase);
      if (kp !== null) problems.push(kp);
    }
    return { certificate: certPath ?? null, key: keyPath, summary: summarize(cert, now), problems };
  } finally {
    keyBytes.fill(0);
  }
}

function checkCommand(values: Values, io: Io): number {
  only(values, ['cert', 'key', 'passphrase', 'passphrase-env', 'warn-days', 'now'], 'check');
  const certs = values.cert ?? [];
  const keys = values.key ?? [];
  if (keys.length === 0) throw new UsageError('keys check needs at least one --cert and --key pair');
  if (certs.length > keys.length)
    throw new UsageError(`${certs.length} --cert but only ${keys.length} --key: each certificate needs its key`);
  let warnDays = 30;
  if (values['warn-days'] !== undefined) {
    if (!/^\d{1,4}$/.test(values['warn-days'])) throw new UsageError('--warn-days takes a whole number of days');
    warnDays = Number(values['warn-days']);
  }
  const now = parseNow(values.now) ?? new Date();
  const passphrase = readPassphrase(values);
  const rows = keys.map((k, i) => checkOne(certs[i], k, passphrase, now, warnDays));
  const failing = rows.some((r) => r.problems.length > 0);
  if (values.json === true) {
    io.stdout(
      `${JSON.stringify({
        ok: !failing,
        command: 'check',
        warnDays,
        keys: rows.map((r) => ({ certificate: r.certificate, key: r.key, ...summaryJson(r.summary), problems: r.problems })),
      })}\n`,
    );
  } else {
    const table: string[][] = [['#', 'merchant id', 'publicKeyHash', 'type', 'expires', 'days left', 'status']];
    rows.forEach((r, i) => {
      const s = r.summary;
      table.push([
        String(i),
        s?.merchantIdentifier ?? '-',
        s?.publicKeyHash ?? '-',
        s?.type ?? '-',
        s === null ? '-' : s.notAfter.toISOString().slice(0, 10),
        s === null ? '-' : String(s.daysLeft),
        r.problems.length === 0 ? 'ok' : r.problems.map((p) => p.code).join(','),
      ]);
    });
    const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
    io.stdout(
      table
        .map((row) =>
          row
            .map((cell, c) => cell.padEnd(widths[c]!))
            .join('  ')
            .trimEnd(),
        )
        .join('\n') + '\n',
    );
    const details = rows.flatMap((r, i) => r.problems.map((p) => `  #${i} ${p.code}: ${p.message}\n`)).join('');
    if (details.length > 0) io.stderr(details);
  }
  return failing ? EXIT_FAILED : EXIT_OK;
}

// eslint-disable-next-line @typescript-eslint/require-await -- the CLI's command table awaits every command; this one has no I/O to wait for
export async function keysMain(argv: readonly string[], io: Io): Promise<number> {
  const json = argv.includes('--json');
  try {
    const { values, positionals } = parseCommandLine(argv, OPTIONS);
    if (values.help === true || positionals.length === 0) {
      if (positionals.length === 0 && values.help !== true) throw new UsageError('keys needs a subcommand: new, import or check');
      io.stdout(KEYS_USAGE);
      return EXIT_OK;
    }
    if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`);
    switch (positionals[0]) {
      case 'new':
        return newCommand(values, io);
      case 'import':
        return importCommand(values, io);
      case 'check':
        return checkCommand(values, io);
      default:
        throw new UsageError(`unknown keys subcommand ${JSON.stringify(positionals[0])}: new, import or check`);
    }
  } catch (err) {
    return failureExit(io, json, err, 'keys');
  }
}
