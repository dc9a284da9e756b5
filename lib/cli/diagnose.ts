// `applepay-verify diagnose [--cert C --key K ...] [--root R] [--now T] TOKEN`: explains one token.
// Exit status: 0 the token is fine (verified, or genuine when no key was given); 1 it fails, and the
// output names why; 2 usage error.
import type { Io } from './main.js';
import {
  EXIT_FAILED,
  EXIT_OK,
  UsageError,
  merchantFiles,
  parseNow,
  readFileOrUsage,
  failureExit,
  parseCommandLine,
  VERIFIER_FLAGS,
  wipe,
  type MerchantFiles,
} from './common.js';
import { diagnoseToken, type Diagnosis } from '../diagnose/diagnose.js';
import type { CertificateFacts } from '../diagnose/inspect.js';

export const DIAGNOSE_USAGE = `applepay-verify diagnose [--cert FILE --key FILE ...] [--root FILE] [--now ISO8601] [--json] <token.json | ->
  Explains one token offline: version, environment (production, sandbox, or test under another root),
  signing time and age, certificate validity at signing time, chain and signature verdicts, the token's
  publicKeyHash against each configured key, and the cause with its fix. Decrypts only when keys are
  given, and prints no payment data either way. Flags as for verifying; also --max-age SECONDS and
  --production-only (refuse sandbox tokens, as acceptSandbox: false). Exit 0 fine, 1 failing, 2 usage.
`;

const OPTIONS = {
  ...VERIFIER_FLAGS,
  'production-only': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const iso = (d: Date | null | undefined): string | null => (d === null || d === undefined ? null : d.toISOString());

function certJson(c: CertificateFacts | null): Record<string, unknown> | null {
  if (c === null) return null;
  return { ...c, notBefore: iso(c.notBefore), notAfter: iso(c.notAfter) };
}

export function diagnosisJson(d: Diagnosis): Record<string, unknown> {
  const t = d.token;
  return {
    ok: d.cause === 'verified' || d.cause === 'genuine',
    cause: d.cause,
    conclusion: d.conclusion,
    token:
      t === null
        ? null
        : {
            version: t.version,
            transactionId: t.transactionId,
            publicKeyHash: t.publicKeyHash,
            applicationData: t.applicationData,
            environment: t.environment,
            leafEnvironment: t.leafEnvironment,
            signingTime: iso(t.signingTime),
            ageSeconds: t.ageMs === null ? null : t.ageMs / 1000,
            leaf: certJson(t.leaf),
            intermediate: certJson(t.intermediate),
            appleRoot: t.appleRoot,
            chain: t.chain,
            signature: t.signature,
          },
    keys: d.keys.map((k) => ({ ...k, notAfter: iso(k.notAfter) })),
    ...(d.verification === undefined ? {} : { verification: d.verification }),
  };
}

function verdict(v: { ok: boolean; code?: string; message?: string }): string {
  return v.ok ? 'valid' : `${v.code ?? 'not checked'}${v.message === undefined ? '' : `: ${v.message}`}`;
}

function certLine(c: CertificateFacts | null): string {
  if (c === null) return '(none)';
  const at = c.validAtSigningTime === null ? '' : c.validAtSigningTime ? ', valid at signing time' : ', NOT valid at signing time';
  return `${c.subject ?? '(no CN)'} (${c.notBefore.toISOString()} .. ${c.notAfter.toISOString()}${at})`;
}

export function diagnosisText(d: Diagnosis): string {
  const rows: [string, string][] = [];
  const t = d.token;
  if (t !== null) {
    rows.push(['version', t.version]);
    rows.push(['environment', t.environment ?? `unknown (leaf claims ${t.leafEnvironment ?? 'nothing'})`]);
    rows.push([
      'signed at',
      t.signingTime === null
        ? '(unknown)'
        : `${t.signingTime.toISOString()} (${t.ageMs === null ? '?' : Math.round(t.ageMs / 1000)} s ago)`,
    ]);
    rows.push(['transaction id', t.transactionId]);
    rows.push(['public key hash', t.publicKeyHash]);
    rows.push(['leaf', certLine(t.leaf)]);
    rows.push(['intermediate', certLine(t.intermediate)]);
    rows.push(['trust anchor', t.appleRoot ? 'Apple Root CA - G3 (bundled)' : 'the root given with --root']);
    rows.push(['chain', verdict(t.chain)]);
    rows.push(['signature', verdict(t.signature)]);
  }
  for (const k of d.keys) {
    const what = k.kind === 'merchant-identity' ? 'MERCHANT IDENTITY certificate' : k.kind === 'key-only' ? 'key' : 'payment processing';
    const match = k.matchesToken ? 'MATCHES the token' : 'does not match';
    const problem = k.problem === undefined ? '' : `; ${k.problem.code}`;
    rows.push([
      `key #${k.index}`,
      `${k.publicKeyHash ?? '(unreadable)'} ${match} (${what}${k.merchantIdentifier === null ? '' : `, ${k.merchantIdentifier}`}${k.notAfter === null ? '' : `, expires ${k.notAfter.toISOString()}`}${problem})`,
    ]);
  }
  if (d.verification !== undefined)
    rows.push(['verification', d.verification.ok ? 'verified and decrypted' : `${d.verification.code}: ${d.verification.message}`]);
  rows.push(['cause', d.cause]);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return `${rows.map(([l, v]) => `  ${l.padEnd(width)}${v}`).join('\n')}\n\n${d.conclusion}\n`;
}

export async function diagnoseMain(argv: readonly string[], io: Io): Promise<number> {
  const json = argv.includes('--json');
  let files: MerchantFiles[] = [];
  try {
    const { values, positionals } = parseCommandLine(argv, OPTIONS);
    if (values.help === true) {
      io.stdout(DIAGNOSE_USAGE);
      return EXIT_OK;
    }
    if (positionals.length !== 1)
      throw new UsageError(positionals.length === 0 ? 'no token file given (use "-" for stdin)' : 'give exactly one token file');
    const now = parseNow(values.now) ?? new Date();
    let maxSignatureAge: number | undefined;
    if (values['max-age'] !== undefined) {
      if (!/^\d+(?:\.\d+)?$/.test(values['max-age'])) throw new UsageError('--max-age takes a number of seconds');
      maxSignatureAge = Number(values['max-age']);
    }
    files = merchantFiles(values, false);
    const root = values.root === undefined ? undefined : readFileOrUsage(values.root, '--root');
    const token = positionals[0] === '-' ? await io.stdin() : readFileOrUsage(positionals[0]!, 'token file');
    const d = await diagnoseToken(token, {
      ...(files.length === 0 ? {} : { merchants: files.map((f) => f.options) }),
      now,
      ...(root === undefined ? {} : { rootCertificate: root }),
      verifier: {
        ...(maxSignatureAge === undefined ? {} : { maxSignatureAge }),
        ...(values['production-only'] === true ? { acceptSandbox: false } : {}),
      },
    });
    io.stdout(json ? `${JSON.stringify(diagnosisJson(d))}\n` : diagnosisText(d));
    return d.cause === 'verified' || d.cause === 'genuine' ? EXIT_OK : EXIT_FAILED;
  } catch (err) {
    return failureExit(io, json, err, 'diagnose');
  } finally {
    wipe(files);
  }
}
