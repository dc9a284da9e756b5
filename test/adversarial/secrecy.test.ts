// Nothing secret escapes: every negative vector of test-vectors/vectors/invalid/ and the negative
// cases minted below (the recipes of test/pipeline/codes.test.ts, with a known PAN and cryptogram, and
// failures that happen after decryption) go through the API and the CLI, and every message,
// toJSON(), inspection, stack trace, lastError(), diagnostics event, stdout and stderr is searched
// for the merchant private keys (PEM lines, raw scalars and primes), the ECDH shared secret, the
// derived key, the plaintext, the PAN and the cryptogram, all computed independently with
// node:crypto in test/adversarial/fixtures/hardening-secrets.ts.
import { execFile } from 'node:child_process';
import diagnostics_channel from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { inspect } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import { main } from '../../lib/cli/main.js';
import {
  VERIFY_CHANNEL_NAME,
  createVerifier,
  isApplePayError,
  lastError,
  memoryReplayGuard,
  type MerchantOptions,
  type VerifierOptions,
} from '../../lib/index.js';
import { findVectors, loadVector } from '../../lib/vectors/index.js';
import { defaultPayment } from '../../test-vectors/gen/token.js';
import { leaks, tokenSecrets, type MerchantMaterial, type Secret } from './fixtures/hardening-secrets.js';
import { ROOT, mint, pki } from '../support/helpers.js';

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'applepay-secrecy-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Item {
  name: string;
  token: unknown;
  options: VerifierOptions;
  /** Absent: the verifier's clock decides. */
  now?: Date;
  /** A memoryReplayGuard holding these transactionIds (and this many entries at most). */
  replay?: { claimed?: string[]; maxEntries?: number };
  /** Arguments that make the CLI verify the same token with the same configuration, when it can. */
  cli?: string[];
  /** Secrets known from minting, beyond those computed from the token and keys. */
  known: Secret[];
}

// ---------------------------------------------------------------------------------------------
// The corpus

const VECTORS_DIR = join(ROOT, 'test-vectors', 'vectors', 'invalid');

function tokenFile(name: string, token: unknown): string {
  const path = join(work, `${name.replace(/[^a-z0-9]+/gi, '_')}.json`);
  writeFileSync(path, typeof token === 'string' || token instanceof Uint8Array ? token : JSON.stringify(token));
  return path;
}

function corpusItems(): Item[] {
  let files: string[];
  try {
    files = findVectors(VECTORS_DIR);
  } catch {
    return [];
  }
  return files.map((file) => {
    const { vector, token, options, now } = loadVector(file);
    const base = dirname(file);
    const name = file.slice(VECTORS_DIR.length + 1);
    const item: Item = { name, token, options, now, known: [] };
    if (vector.replay !== undefined) item.replay = vector.replay;
    // The CLI takes certificate/key pairs, a root and the instant: vectors that need more
    // (replay, caps, versions, merchant identifiers, passphrases) go through the API only.
    const plain =
      vector.replay === undefined &&
      vector.options === undefined &&
      vector.merchants.every((m) => m.certificate !== undefined && m.passphrase === undefined && m.merchantIdentifier === undefined);
    if (plain) {
      const args = vector.merchants.flatMap((m) => ['--cert', resolve(base, m.certificate!), '--key', resolve(base, m.privateKey)]);
      if (vector.root !== undefined && vector.root !== 'apple') args.push('--root', resolve(base, vector.root));
      args.push('--now', vector.now, vector.tokenFile !== undefined ? resolve(base, vector.tokenFile) : tokenFile(name, token));
      item.cli = args;
    }
    return item;
  });
}

// ---------------------------------------------------------------------------------------------
// Minted cases with a known PAN and cryptogram

function mintedItems(): Item[] {
  const p = pki();
  const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
  const now = new Date(signingTime.getTime() + 1000);
  const merchants: MerchantOptions[] = [
    { certificate: p.merchants.ec.certPem, privateKey: readFileSync(p.merchants.ec.keyPath) },
    { certificate: p.merchants.rsa.certPem, privateKey: readFileSync(p.merchants.rsa.keyPath) },
  ];
  const options: VerifierOptions = { rootCertificate: p.root.certPem, merchants };
  const cliConfig = [
    '--cert',
    p.merchants.ec.certPath,
    '--key',
    p.merchants.ec.keyPath,
    '--cert',
    p.merchants.rsa.certPath,
    '--key',
    p.merchants.rsa.keyPath,
    '--root',
    p.root.certPath,
  ];

  interface Case {
    name: string;
    mint: Partial<Parameters<typeof mint>[0]> & Pick<Parameters<typeof mint>[0], 'version'>;
    /** The payment, given the PAN and cryptogram of this case; default a 3DSecure payment holding them. */
    payment?: (pan: string, cryptogram: string) => object | Buffer;
    at?: Date;
    /** Configuration the CLI cannot express: a replay guard, a clock. */
    special?: 'replayed' | 'store-down' | 'clock-throws';
  }
  const cases: Case[] = [];
  for (const version of ['EC_v1', 'RSA_v1'] as const) {
    cases.push(
      {
        name: `${version} PAYLOAD_INVALID, currency not numeric`,
        mint: { version },
        payment: (pan, c) => ({ ...threeDS(pan, c), currencyCode: 'USD' }),
      },
      {
        name: `${version} PAYLOAD_INVALID, PAN as a number`,
        mint: { version },
        payment: (pan, c) => ({ ...threeDS(pan, c), applicationPrimaryAccountNumber: Number(pan) }),
      },
      {
        name: `${version} PAYLOAD_INVALID, PAN key twice`,
        mint: { version },
        payment: (pan, c) =>
          Buffer.from(`{"applicationPrimaryAccountNumber":"${pan}","applicationPrimaryAccountNumber":"${pan}","c":"${c}"}`),
      },
      {
        name: `${version} DECRYPTION_FAILED, tampered ciphertext under a valid signature`,
        mint: { version, dataOverride: Buffer.alloc(200, 0x5a) },
      },
      {
        name: `${version} SIGNATURE_INVALID, signed content replaced`,
        mint: { version, cms: { signedContentOverride: Buffer.from('x') } },
      },
      { name: `${version} SIGNING_TIME_TOO_OLD`, mint: { version }, at: new Date(signingTime.getTime() + 3_600_000) },
      { name: `${version} REPLAY_DETECTED, after full decryption`, mint: { version }, special: 'replayed' },
      {
        name: `${version} REPLAY_STORE_UNAVAILABLE, a store error quoting the token and payment`,
        mint: { version },
        special: 'store-down',
      },
    );
  }
  cases.push(
    {
      name: 'EC_v1 DECRYPTION_FAILED, rotated key under a matching hash',
      mint: { version: 'EC_v1', merchant: 'ecRotated', publicKeyHashOverride: p.merchants.ec.publicKeyHash },
    },
    { name: 'RSA_v1 DECRYPTION_FAILED, 32-byte unwrapped key', mint: { version: 'RSA_v1', symmetricKey: Buffer.alloc(32, 7) } },
    { name: 'EC_v1 MERCHANT_KEY_NOT_FOUND', mint: { version: 'EC_v1', merchant: 'ecRotated' } },
    { name: 'EC_v1 INTERNAL, a clock that throws a message quoting the payment', mint: { version: 'EC_v1' }, special: 'clock-throws' },
  );

  return cases.map((c, i) => {
    const pan = `4${String(i).padStart(3, '0')}${String(Date.now()).slice(-12)}`;
    const cryptogram = Buffer.from(`cryptogram ${i} ${pan}`).toString('base64');
    const m = mint({ signingTime, payment: (c.payment ?? threeDS)(pan, cryptogram), ...c.mint });
    const known: Secret[] = [
      { what: 'PAN', value: pan },
      { what: 'cryptogram', value: cryptogram },
      { what: 'symmetric key K (as minted, hex)', value: m.expected.symmetricKey.toString('hex') },
      { what: 'symmetric key K (as minted, base64)', value: m.expected.symmetricKey.toString('base64') },
    ];
    const quote = `${pan} ${cryptogram} ${m.expected.symmetricKey.toString('hex')} ${JSON.stringify(m.paymentData)}`;
    const item: Item = { name: `minted: ${c.name}`, token: m.paymentData, options, now: c.at ?? now, known };
    if (c.special === 'replayed') item.replay = { claimed: [m.expected.transactionId] };
    else if (c.special === 'store-down')
      item.options = { ...options, replayGuard: { claim: () => Promise.reject(new Error(`redis: ${quote}`)) } };
    else if (c.special === 'clock-throws') {
      item.options = {
        ...options,
        clock: () => {
          throw new Error(`clock failed near ${quote}`);
        },
      };
      delete item.now;
    } else item.cli = [...cliConfig, '--now', item.now!.toISOString(), tokenFile(`minted-${i}`, m.paymentData)];
    return item;
  });
}

function threeDS(pan: string, cryptogram: string): object {
  return {
    ...defaultPayment(),
    applicationPrimaryAccountNumber: pan,
    paymentData: { onlinePaymentCryptogram: cryptogram, eciIndicator: '7' },
  };
}

// ---------------------------------------------------------------------------------------------
// Running and capturing

function material(options: VerifierOptions): MerchantMaterial[] {
  return [options.merchants].flat().map((m) => {
    const out: MerchantMaterial = { privateKey: Buffer.from(m.privateKey) };
    if (m.certificate !== undefined) out.certificate = Buffer.from(m.certificate);
    if (m.passphrase !== undefined) out.passphrase = Buffer.from(m.passphrase).toString();
    if (m.merchantIdentifier !== undefined) out.merchantIdentifier = m.merchantIdentifier;
    return out;
  });
}

function describeError(err: unknown): string[] {
  if (!(err instanceof Error)) return [inspect(err)];
  const texts = [err.message, String(err.stack), String(err), inspect(err, { depth: 10, showHidden: true }), JSON.stringify(err)];
  if (isApplePayError(err)) texts.push(JSON.stringify(err.toJSON()), JSON.stringify(err.details));
  return texts;
}

async function apiOutputs(item: Item): Promise<{ outputs: string[]; codes: string[] }> {
  const outputs: string[] = [];
  const codes: string[] = [];
  const events: unknown[] = [];
  const listener = (e: unknown) => events.push(e);
  diagnostics_channel.subscribe(VERIFY_CHANNEL_NAME, listener);
  try {
    const build = async () => {
      // trackLastError: lastError() is one of the outputs searched for secrets.
      if (item.replay === undefined) return createVerifier({ ...item.options, trackLastError: true });
      const at = item.now ?? new Date();
      const max = item.replay.maxEntries;
      const guard = memoryReplayGuard({ clock: () => at, ...(max === undefined ? {} : { maxEntries: max }) });
      for (const id of item.replay.claimed ?? []) await guard.claim(id, new Date(at.getTime() + 3_600_000));
      return createVerifier({ ...item.options, replayGuard: guard, trackLastError: true });
    };
    let verifier;
    try {
      verifier = await build();
    } catch (err) {
      outputs.push(...describeError(err));
      codes.push(isApplePayError(err) ? err.code : 'THROWN');
      return { outputs, codes };
    }
    const at = item.now === undefined ? {} : { now: item.now };
    const attempts: (() => unknown)[] = [() => verifier.verifyAndDecrypt(item.token, at)];
    if (item.replay === undefined && !('replayGuard' in item.options)) attempts.push(() => verifier.verifyAndDecryptSync(item.token, at));
    for (const attempt of attempts) {
      try {
        await attempt();
        codes.push('OK');
      } catch (err) {
        codes.push(isApplePayError(err) ? err.code : 'THROWN');
        outputs.push(...describeError(err));
      }
      outputs.push(JSON.stringify(lastError()), inspect(lastError()), JSON.stringify(verifier.lastError()));
    }
  } finally {
    diagnostics_channel.unsubscribe(VERIFY_CHANNEL_NAME, listener);
  }
  outputs.push(JSON.stringify(events), inspect(events, { depth: 10 }));
  return { outputs, codes };
}

async function cliOutputs(args: string[]): Promise<{ outputs: string[]; statuses: number[] }> {
  const outputs: string[] = [];
  const statuses: number[] = [];
  for (const mode of [['--json'], [], ['--verbose']]) {
    let out = '';
    let err = '';
    const status = await main([...mode, ...args], {
      stdout: (t) => void (out += t),
      stderr: (t) => void (err += t),
      stdin: () => Promise.resolve(Buffer.alloc(0)),
    });
    statuses.push(status);
    outputs.push(out, err);
  }
  return { outputs, statuses };
}

// ---------------------------------------------------------------------------------------------

const corpus = corpusItems();
const minted = mintedItems();
const items = [...corpus, ...minted];

describe('nothing secret escapes', () => {
  test('the secret finder finds what it should', () => {
    const item = minted[0]!;
    const { secrets, opened } = tokenSecrets(item.token, material(item.options));
    expect(opened).toBe(true);
    const all = [...secrets, ...item.known];
    expect(leaks(`card ${item.known[0]!.value}`, all)).toContain('PAN');
    expect(leaks(readFileSync(pki().merchants.ec.keyPath, 'utf8'), all)).toContain('private key PEM line');
    expect(all.map((s) => s.what)).toEqual(
      expect.arrayContaining([
        'shared secret Z (hex)',
        'symmetric key K (base64)',
        'private d (hex)',
        'applicationPrimaryAccountNumber',
        'onlinePaymentCryptogram',
      ]),
    );
  });

  test('the CLI capture would see a leak: a verified token with --reveal does print the PAN', async () => {
    const p = pki();
    const pan = '4000123443211234';
    const m = mint({ version: 'EC_v1', payment: threeDS(pan, 'AAECAwQFBgcICQoLDA0ODw==') });
    const file = tokenFile('reveal-control', m.paymentData);
    const args = ['--reveal', '--cert', p.merchants.ec.certPath, '--key', p.merchants.ec.keyPath, '--root', p.root.certPath, file];
    const { outputs, statuses } = await cliOutputs(args);
    expect(statuses).toEqual([0, 0, 0]);
    expect(leaks(outputs.join('\n'), [{ what: 'PAN', value: pan }])).toContain('PAN');
  });

  test('the corpus and the minted cases are all rejections, most with a recoverable plaintext', () => {
    expect(minted.length).toBeGreaterThanOrEqual(20);
    const opened = items.filter((i) => tokenSecrets(i.token, material(i.options)).opened).length;
    expect(opened).toBeGreaterThan(items.length / 2);
  });

  test.each(items.map((i) => [i.name, i] as const))('%s', async (_, item) => {
    const { secrets } = tokenSecrets(item.token, material(item.options));
    const all = [...secrets, ...item.known];
    const { outputs, codes } = await apiOutputs(item);
    expect(codes.length).toBeGreaterThan(0);
    expect(codes).not.toContain('OK');
    expect(codes).not.toContain('THROWN');
    const found: string[] = [];
    outputs.forEach((text, i) => found.push(...leaks(text, all).map((what) => `API output ${i}: ${what}`)));
    if (item.cli !== undefined) {
      const { outputs: cli, statuses } = await cliOutputs(item.cli);
      expect(statuses.every((s) => s === 1 || s === 2)).toBe(true);
      cli.forEach((text, i) => found.push(...leaks(text, all).map((what) => `CLI output ${i}: ${what}`)));
    }
    expect(found).toEqual([]);
  });

  test('the vectors command over the whole negative corpus, human and --json', async () => {
    if (corpus.length === 0) return;
    const all = corpus.flatMap((i) => [...tokenSecrets(i.token, material(i.options)).secrets, ...i.known]);
    for (const mode of [[], ['--json']]) {
      let out = '';
      let err = '';
      await main(['vectors', ...mode, VECTORS_DIR], {
        stdout: (t) => void (out += t),
        stderr: (t) => void (err += t),
        stdin: () => Promise.resolve(Buffer.alloc(0)),
      });
      expect(out.length).toBeGreaterThan(0);
      expect(leaks(out + err, all)).toEqual([]);
    }
  });

  test('the installed command (bin/applepay-verify.js) as a process, on cases from every stage', async () => {
    const bin = join(ROOT, 'bin', 'applepay-verify.js');
    const chosen = minted.filter((i) => i.cli !== undefined);
    expect(chosen.length).toBeGreaterThan(5);
    for (const item of chosen.slice(0, 6)) {
      const all = [...tokenSecrets(item.token, material(item.options)).secrets, ...item.known];
      for (const mode of [['--json'], []]) {
        const { stdout, stderr } = await run(process.execPath, [bin, ...mode, ...item.cli!]).catch(
          (e: { stdout: string; stderr: string; code: number }) => {
            expect([1, 2]).toContain(e.code);
            return e;
          },
        );
        expect(stdout + stderr).not.toBe('');
        expect(leaks(stdout + stderr, all)).toEqual([]);
      }
    }
  });
});
