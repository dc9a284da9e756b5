// The test-vector runner, shared by `applepay-verify vectors` and the test suite, so that the corpus
// means the same thing to both. The format is described in test-vectors/README.md: one JSON file per
// vector carrying the token, the verifier configuration (files named relative to the vector) and the
// expected verdict.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AddonLoadError } from '../native/loader.js';
import { isDeepStrictEqual } from 'node:util';
import {
  ERROR_CODES,
  createVerifier,
  isApplePayError,
  memoryReplayGuard,
  type ErrorCode,
  type MerchantOptions,
  type ReplayGuard,
  type Result,
  type Verifier,
  type VerifierOptions,
} from '../index.js';

/** The package's own corpus: from dist/ (installed) and from lib/ (tests) alike this is the sibling test-vectors/. */
export const DEFAULT_VECTORS_DIR = fileURLToPath(new URL('../../test-vectors/', import.meta.url));

/** `vector.json` (one vector per folder, beside the files it uses) or `<name>.vector.json`. */
export function isVectorFileName(name: string): boolean {
  return name === 'vector.json' || name.endsWith('.vector.json');
}

export interface VectorMerchant {
  /** Path relative to the vector file. */
  certificate?: string;
  /** Path relative to the vector file. */
  privateKey: string;
  passphrase?: string;
  merchantIdentifier?: string;
}

export interface VectorOptions {
  maxSignatureAge?: number;
  maxClockSkew?: number;
  versions?: string[];
  maxTokenBytes?: number;
  acceptSandbox?: boolean;
}

/** A vector with `replay` is verified by a verifier holding a memoryReplayGuard whose clock is `now`. */
export interface VectorReplay {
  /** transactionIds claimed before the token is verified, as if earlier tokens had carried them. */
  claimed?: string[];
  /** memoryReplayGuard's maxEntries. */
  maxEntries?: number;
}

export interface ExpectedSuccess {
  ok: true;
  payment: unknown;
  version?: string;
  transactionId?: string;
  /** ISO 8601. */
  signingTime?: string;
  /** `null`: the result must have no applicationData. */
  applicationData?: string | null;
  merchantIdentifierHash?: string;
  publicKeyHash?: string;
}

export interface ExpectedFailure {
  ok: false;
  code: ErrorCode;
}

export interface Vector {
  description: string;
  provenance: unknown;
  /** Exactly one of token, tokenText, tokenFile. */
  token?: unknown;
  tokenText?: string;
  /** Path relative to the vector file; its bytes are passed to the library as a Buffer. */
  tokenFile?: string;
  merchants: VectorMerchant[];
  /** Path relative to the vector file, or "apple" for the bundled Apple Root CA - G3. Default "apple". */
  root?: string;
  /** ISO 8601: the verification instant. */
  now: string;
  options?: VectorOptions;
  replay?: VectorReplay;
  expected: ExpectedSuccess | ExpectedFailure;
}

/** What the library did with a vector. A configuration error is an outcome like any other code. */
export type Outcome =
  { ok: true; result: Result } | { ok: false; code: ErrorCode; message: string; stage: 'configuration' | 'verification' };

export interface VectorReport {
  /** Absolute path of the vector file. */
  path: string;
  /** Path relative to the directory that was walked, with forward slashes. */
  name: string;
  description: string;
  passed: boolean;
  /** One-line summaries: "ok" or the code. */
  expected: string;
  actual: string;
  /** Why it failed, when it did. */
  reason?: string;
}

/** A vector file that cannot be read as the format describes: a broken corpus, never a verdict. */
export class VectorFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VectorFormatError';
  }
}

const VECTOR_KEYS = new Set([
  'description',
  'provenance',
  'token',
  'tokenText',
  'tokenFile',
  'merchants',
  'root',
  'now',
  'options',
  'replay',
  'expected',
]);
const REPLAY_KEYS = new Set(['claimed', 'maxEntries']);
const MERCHANT_KEYS = new Set(['certificate', 'privateKey', 'passphrase', 'merchantIdentifier']);
const OPTION_KEYS = new Set(['maxSignatureAge', 'maxClockSkew', 'versions', 'maxTokenBytes', 'acceptSandbox']);
const SUCCESS_KEYS = new Set([
  'ok',
  'payment',
  'version',
  'transactionId',
  'signingTime',
  'applicationData',
  'merchantIdentifierHash',
  'publicKeyHash',
]);
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(obj: Record<string, unknown>, allowed: ReadonlySet<string>, where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) throw new VectorFormatError(`${where} has an unknown field ${JSON.stringify(key)}`);
  }
}

function optionalString(obj: Record<string, unknown>, key: string, where: string): void {
  if (obj[key] !== undefined && typeof obj[key] !== 'string') throw new VectorFormatError(`${where}.${key} must be a string`);
}

/** Checks the shape of a parsed vector file; the library checks the values. */
export function checkVector(value: unknown): Vector {
  if (!isRecord(value)) throw new VectorFormatError('a vector is a JSON object');
  onlyKeys(value, VECTOR_KEYS, 'vector');
  if (typeof value.description !== 'string' || value.description.length === 0)
    throw new VectorFormatError('vector.description must be a non-empty string');
  if (value.provenance === undefined) throw new VectorFormatError('vector.provenance is required');
  const sources = ['token', 'tokenText', 'tokenFile'].filter((k) => value[k] !== undefined);
  if (sources.length !== 1) throw new VectorFormatError('a vector has exactly one of token, tokenText, tokenFile');
  optionalString(value, 'tokenText', 'vector');
  optionalString(value, 'tokenFile', 'vector');
  optionalString(value, 'root', 'vector');
  if (!Array.isArray(value.merchants)) throw new VectorFormatError('vector.merchants must be a list');
  value.merchants.forEach((m, i) => {
    const where = `vector.merchants[${i}]`;
    if (!isRecord(m)) throw new VectorFormatError(`${where} must be an object`);
    onlyKeys(m, MERCHANT_KEYS, where);
    if (typeof m.privateKey !== 'string') throw new VectorFormatError(`${where}.privateKey must be a path`);
    for (const key of ['certificate', 'passphrase', 'merchantIdentifier']) optionalString(m, key, where);
  });
  if (typeof value.now !== 'string' || !ISO_INSTANT.test(value.now) || Number.isNaN(Date.parse(value.now))) {
    throw new VectorFormatError('vector.now must be an ISO 8601 instant with a time zone');
  }
  if (value.options !== undefined) {
    if (!isRecord(value.options)) throw new VectorFormatError('vector.options must be an object');
    onlyKeys(value.options, OPTION_KEYS, 'vector.options');
  }
  if (value.replay !== undefined) {
    const replay = value.replay;
    if (!isRecord(replay)) throw new VectorFormatError('vector.replay must be an object');
    onlyKeys(replay, REPLAY_KEYS, 'vector.replay');
    if (replay.claimed !== undefined && !(Array.isArray(replay.claimed) && replay.claimed.every((id) => typeof id === 'string'))) {
      throw new VectorFormatError('vector.replay.claimed must be a list of transactionIds');
    }
    if (
      replay.maxEntries !== undefined &&
      !(typeof replay.maxEntries === 'number' && Number.isSafeInteger(replay.maxEntries) && replay.maxEntries > 0)
    ) {
      throw new VectorFormatError('vector.replay.maxEntries must be a positive integer');
    }
  }
  const expected = value.expected;
  if (!isRecord(expected)) throw new VectorFormatError('vector.expected must be an object');
  if (expected.ok === true) {
    onlyKeys(expected, SUCCESS_KEYS, 'vector.expected');
    if (!isRecord(expected.payment)) throw new VectorFormatError('vector.expected.payment must be an object');
    for (const key of ['version', 'transactionId', 'signingTime', 'merchantIdentifierHash', 'publicKeyHash'])
      optionalString(expected, key, 'vector.expected');
    if (expected.applicationData !== undefined && expected.applicationData !== null && typeof expected.applicationData !== 'string') {
      throw new VectorFormatError('vector.expected.applicationData must be a string or null');
    }
  } else if (expected.ok === false) {
    onlyKeys(expected, new Set(['ok', 'code']), 'vector.expected');
    if (typeof expected.code !== 'string' || !(ERROR_CODES as readonly string[]).includes(expected.code)) {
      throw new VectorFormatError(`vector.expected.code ${JSON.stringify(expected.code)} is not an error code of the library`);
    }
  } else {
    throw new VectorFormatError('vector.expected.ok must be true or false');
  }
  return value as unknown as Vector;
}

/** A vector with its files read: ready to hand to the library. */
export interface LoadedVector {
  path: string;
  vector: Vector;
  token: unknown;
  options: VerifierOptions;
  now: Date;
}

function readRelative(base: string, path: string, what: string): Buffer {
  try {
    return readFileSync(resolve(base, path));
  } catch {
    throw new VectorFormatError(`${what} ${JSON.stringify(path)} cannot be read`);
  }
}

export function loadVector(path: string): LoadedVector {
  const abs = resolve(path);
  const base = dirname(abs);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(abs, 'utf8'));
  } catch (err) {
    throw new VectorFormatError(`cannot read the vector file: ${err instanceof Error ? err.message : String(err)}`);
  }
  const vector = checkVector(parsed);
  const merchants: MerchantOptions[] = vector.merchants.map((m, i) => ({
    privateKey: readRelative(base, m.privateKey, `merchants[${i}].privateKey`),
    ...(m.certificate === undefined ? {} : { certificate: readRelative(base, m.certificate, `merchants[${i}].certificate`) }),
    ...(m.passphrase === undefined ? {} : { passphrase: m.passphrase }),
    ...(m.merchantIdentifier === undefined ? {} : { merchantIdentifier: m.merchantIdentifier }),
  }));
  const root = vector.root ?? 'apple';
  // Options go to the library as written: a vector may hold a bad value on purpose (CONFIG_INVALID).
  const options = {
    ...(vector.options ?? {}),
    merchants,
    ...(root === 'apple' ? {} : { rootCertificate: readRelative(base, root, 'root') }),
  } as VerifierOptions;
  const token =
    vector.token !== undefined
      ? vector.token
      : vector.tokenText !== undefined
        ? vector.tokenText
        : readRelative(base, vector.tokenFile!, 'tokenFile');
  return { path: abs, vector, token, options, now: new Date(vector.now) };
}

/** The vector's replay guard, with its earlier claims made; they last well past any acceptance window. */
async function replayGuard(replay: VectorReplay, now: Date): Promise<ReplayGuard> {
  const guard = memoryReplayGuard({ clock: () => now, ...(replay.maxEntries === undefined ? {} : { maxEntries: replay.maxEntries }) });
  const until = new Date(now.getTime() + 24 * 3600 * 1000);
  for (const id of replay.claimed ?? []) {
    if (!(await guard.acquire(id, until.getTime() - now.getTime(), 'vector')))
      throw new VectorFormatError(`vector.replay.claimed lists ${id} twice`);
  }
  return guard;
}

/** Builds the verifier from the vector's configuration and verifies its token. Only non-library faults throw. */
export async function verifyVector(loaded: LoadedVector): Promise<Outcome> {
  const replay = loaded.vector.replay;
  const options = replay === undefined ? loaded.options : { ...loaded.options, replayGuard: await replayGuard(replay, loaded.now) };
  let verifier: Verifier;
  try {
    verifier = createVerifier(options);
  } catch (err) {
    // No vector can run without the addon: one explanation, not a FAIL line per vector.
    if (err instanceof AddonLoadError) throw err;
    if (isApplePayError(err)) return { ok: false, code: err.code, message: err.message, stage: 'configuration' };
    throw err;
  }
  try {
    return { ok: true, result: await verifier.verifyAndDecrypt(loaded.token, { now: loaded.now }) };
  } catch (err) {
    if (isApplePayError(err)) return { ok: false, code: err.code, message: err.message, stage: 'verification' };
    throw err;
  }
}

/** Why the outcome differs from the expectation, or null when it matches. */
export function compareOutcome(expected: Vector['expected'], outcome: Outcome): string | null {
  if (!expected.ok) {
    if (outcome.ok) return `expected ${expected.code}, but the token verified`;
    return outcome.code === expected.code ? null : `expected ${expected.code}, got ${outcome.code} (${outcome.message})`;
  }
  if (!outcome.ok) return `expected success, got ${outcome.code} (${outcome.message})`;
  const r = outcome.result;
  if (!isDeepStrictEqual(r.payment, expected.payment)) return 'the decrypted payment differs from expected.payment';
  const fields: [string, string | null | undefined, string | null | undefined][] = [
    ['version', expected.version, r.version],
    ['transactionId', expected.transactionId, r.transactionId],
    [
      'signingTime',
      expected.signingTime === undefined ? undefined : new Date(expected.signingTime).toISOString(),
      r.signingTime.toISOString(),
    ],
    ['merchantIdentifierHash', expected.merchantIdentifierHash, r.merchantIdentifierHash],
    ['publicKeyHash', expected.publicKeyHash, r.publicKeyHash],
    ['applicationData', expected.applicationData === null ? 'absent' : expected.applicationData, r.applicationData ?? 'absent'],
  ];
  for (const [name, want, got] of fields) {
    if (want !== undefined && want !== got) return `${name}: expected ${String(want)}, got ${String(got)}`;
  }
  return null;
}

function summary(outcome: Outcome | Vector['expected']): string {
  return outcome.ok ? 'ok' : outcome.code;
}

function displayName(dir: string, path: string): string {
  return relative(dir, path).split(sep).join('/');
}

/** Loads, verifies and judges one vector. A vector that cannot be loaded fails, with the reason. */
export async function runVector(path: string, dir: string = dirname(resolve(path))): Promise<VectorReport> {
  const abs = resolve(path);
  const name = displayName(resolve(dir), abs);
  let loaded: LoadedVector;
  let outcome: Outcome;
  try {
    loaded = loadVector(abs);
    outcome = await verifyVector(loaded);
  } catch (err) {
    if (!(err instanceof VectorFormatError)) throw err;
    return { path: abs, name, description: '', passed: false, expected: '?', actual: 'unreadable', reason: err.message };
  }
  const reason = compareOutcome(loaded.vector.expected, outcome);
  return {
    path: abs,
    name,
    description: loaded.vector.description,
    passed: reason === null,
    expected: summary(loaded.vector.expected),
    actual: summary(outcome),
    ...(reason === null ? {} : { reason }),
  };
}

/** Every vector file under dir, recursively, in a stable order (absolute paths). */
export function findVectors(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    const entries = readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && isVectorFileName(e.name)) found.push(p);
    }
  };
  walk(resolve(dir));
  return found;
}

export interface CorpusReport {
  reports: VectorReport[];
  passed: number;
  failed: number;
}

/** Runs every vector under dir in order; onReport sees each result as it comes. */
export async function runVectors(dir: string = DEFAULT_VECTORS_DIR, onReport?: (report: VectorReport) => void): Promise<CorpusReport> {
  const reports: VectorReport[] = [];
  for (const path of findVectors(dir)) {
    const report = await runVector(path, dir);
    reports.push(report);
    onReport?.(report);
  }
  const passed = reports.filter((r) => r.passed).length;
  return { reports, passed, failed: reports.length - passed };
}
