// What the `keys` and `diagnose` commands share with the verify command: the meaning of --cert, --key,
// --passphrase(-env), --merchant-id, --root, --now and --json, and how a usage error is reported.
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { MerchantOptions } from '../steps/merchant-key.js';
import type { Io } from './main.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export class UsageError extends Error {}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/** Parses a command line strictly; a bad flag is a usage error. */
export function parseCommandLine<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: readonly string[],
  options: T,
): ReturnType<typeof parseArgs<{ options: T; allowPositionals: true; strict: true }>> {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

export function readFileOrUsage(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${JSON.stringify(path)} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
}

export function parseNow(text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const date = new Date(text);
  if (!ISO_INSTANT.test(text) || Number.isNaN(date.getTime())) {
    throw new UsageError('--now takes an ISO 8601 instant with a time zone, e.g. 2025-03-01T12:00:05Z');
  }
  return date;
}

/** The flags that configure a verifier, in verify and diagnose alike (parseArgs option definitions). */
export const VERIFIER_FLAGS = {
  cert: { type: 'string', multiple: true },
  key: { type: 'string', multiple: true },
  passphrase: { type: 'string' },
  'passphrase-env': { type: 'string' },
  'merchant-id': { type: 'string' },
  root: { type: 'string' },
  now: { type: 'string' },
  'max-age': { type: 'string' },
} as const;

export interface KeyFlags {
  cert?: string[] | undefined;
  key?: string[] | undefined;
  passphrase?: string | undefined;
  'passphrase-env'?: string | undefined;
  'merchant-id'?: string | undefined;
}

export function readPassphrase(values: KeyFlags): string | undefined {
  const variable = values['passphrase-env'];
  if (variable === undefined) return values.passphrase;
  if (values.passphrase !== undefined) throw new UsageError('give --passphrase or --passphrase-env, not both');
  const value = process.env[variable];
  if (value === undefined) throw new UsageError(`environment variable ${variable} is not set`);
  return value;
}

export interface MerchantFiles {
  certPath?: string;
  keyPath: string;
  options: MerchantOptions;
}

/**
 * --cert and --key pair up in order; a key beyond the certificates stands alone. `read` decides what an
 * unreadable file is: a usage error here, a configuration error under the library's code for verify.
 */
export function merchantFiles(
  values: KeyFlags,
  required: boolean,
  read: (path: string, flag: '--key' | '--cert') => Buffer = readFileOrUsage,
): MerchantFiles[] {
  const certs = values.cert ?? [];
  const keys = values.key ?? [];
  const merchantId = values['merchant-id'];
  if (keys.length === 0) {
    if (required) throw new UsageError('at least one --key is required');
    if (certs.length > 0) throw new UsageError('each --cert needs its --key');
    return [];
  }
  if (certs.length > keys.length)
    throw new UsageError(`${certs.length} --cert but only ${keys.length} --key: each certificate needs its key`);
  if (merchantId !== undefined && certs.length === keys.length) {
    throw new UsageError('--merchant-id stands in place of --cert: give a --key without a --cert');
  }
  const passphrase = readPassphrase(values);
  return keys.map((keyPath, i) => {
    const certPath = certs[i];
    return {
      keyPath,
      ...(certPath === undefined ? {} : { certPath }),
      options: {
        privateKey: read(keyPath, '--key'),
        ...(certPath === undefined ? {} : { certificate: read(certPath, '--cert') }),
        ...(certPath === undefined && merchantId !== undefined ? { merchantIdentifier: merchantId } : {}),
        ...(passphrase === undefined ? {} : { passphrase }),
      },
    };
  });
}

/** Overwrites the key bytes read from disk once they are no longer needed. */
export function wipe(files: readonly MerchantFiles[]): void {
  for (const f of files) if (f.options.privateKey instanceof Uint8Array) f.options.privateKey.fill(0);
}

/** How a subcommand ends on an exception: a usage error as such; anything else as a fault that quotes nothing. */
export function failureExit(io: Io, json: boolean, err: unknown, command: string): number {
  if (err instanceof UsageError) {
    const r = usageReport(json, err.message, command);
    if (r.stdout !== undefined) io.stdout(r.stdout);
    if (r.stderr !== undefined) io.stderr(r.stderr);
    return EXIT_USAGE;
  }
  const message = 'internal error';
  if (json) io.stdout(`${JSON.stringify({ ok: false, code: 'INTERNAL', message })}\n`);
  else io.stderr(`applepay-verify ${command}: ${message}\n`);
  return EXIT_USAGE;
}

export function usageReport(json: boolean, message: string, command: string): { stdout?: string; stderr?: string } {
  if (json) return { stdout: `${JSON.stringify({ ok: false, code: 'USAGE', message })}\n` };
  return { stderr: `applepay-verify ${command}: ${message}\nTry applepay-verify --help.\n` };
}
