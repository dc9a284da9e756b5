// The addon is context-aware: it loads in several worker_threads at once (each with its own
// instance data, no process-wide state) and every thread decrypts the real tokens correctly, both
// on its own thread and on the shared libuv pool.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { native } from '../../lib/native/binding.js';
import { loadRealToken, signedPartsOf } from './fixtures/native-cms.js';
import { tokenCalls } from './fixtures/native-compat.mjs';

const REAL = fileURLToPath(new URL('../../test-vectors/real/', import.meta.url));
const WORKER = new URL('./fixtures/native-worker.mjs', import.meta.url);

interface SetData {
  name: string;
  version: string;
  keyPem: string;
  header: string;
  partyV: string;
  data: string;
  expected: unknown;
  // The CMS signer's part, for the signature entry points (base64).
  spki: string;
  message: string;
  signature: string;
}

function load(name: string): SetData {
  const token = JSON.parse(readFileSync(`${REAL}${name}/token.json`, 'utf8')) as {
    version: string;
    data: string;
    signature: string;
    header: { ephemeralPublicKey?: string; wrappedKey?: string };
  };
  const signed = signedPartsOf(token.signature);
  const meta = JSON.parse(readFileSync(`${REAL}${name}/meta.json`, 'utf8')) as { merchantIdHashHex: string };
  return {
    name,
    version: token.version,
    keyPem: readFileSync(`${REAL}${name}/merchant_key.TEST-KEY.pem`, 'utf8'),
    header: token.header.ephemeralPublicKey ?? token.header.wrappedKey!,
    partyV: meta.merchantIdHashHex,
    data: token.data,
    expected: JSON.parse(readFileSync(`${REAL}${name}/expected.json`, 'utf8')) as unknown,
    spki: signed.spki.toString('base64'),
    message: signed.message.toString('base64'),
    signature: signed.signature.toString('base64'),
  };
}

// The token path through the addon's one entry point, behind a real token's verifying signature
// (see fixtures/native-compat.mjs).
const signerOf = (name: string) => {
  const t = loadRealToken(name);
  return { signer: native.importPublicKey(t.spki), message: t.message, signature: t.signature };
};
const calls = tokenCalls(native, { ec: signerOf('gala-seatgeek-2014'), rsa: signerOf('basistheory-rsa-2024') });

const SETS = ['gala-seatgeek-2014', 'basistheory-ec-2023-03', 'basistheory-rsa-2024'].map(load);

function run(workerData: unknown): { worker: Worker; result: Promise<unknown> } {
  const worker = new Worker(WORKER, { workerData });
  const result = new Promise<unknown>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before answering`)));
  });
  return { worker, result };
}

describe('worker_threads', () => {
  it('4 workers load the addon at once and decrypt every token, sync and async, to expected.json', async () => {
    const sets = SETS.map(({ expected: _expected, ...rest }) => rest);
    const runs = Array.from({ length: 4 }, () => run({ sets, rounds: 25, mode: 'decrypt' }));
    // The main thread works at the same time, sharing the libuv pool with the workers.
    const mainKey = native.importKey(Buffer.from(SETS[0]!.keyPem));
    const mainPending = Array.from({ length: 50 }, () =>
      calls.decryptECAsync(
        mainKey,
        Buffer.from(SETS[0]!.header, 'base64'),
        Buffer.from(SETS[0]!.partyV, 'hex'),
        Buffer.from(SETS[0]!.data, 'base64'),
      ),
    );
    const results = (await Promise.all(runs.map((r) => r.result))) as { name: string; outputs: string[]; spki: string }[][];
    for (const r of runs) await r.worker.terminate();

    expect(results).toHaveLength(4);
    for (const perWorker of results) {
      expect(perWorker.map((r) => r.name)).toEqual(SETS.map((s) => s.name));
      for (const [i, r] of perWorker.entries()) {
        // Sync and async, 25 rounds each: exactly one distinct output, and it is the expected one.
        expect(r.outputs).toHaveLength(1);
        expect(JSON.parse(Buffer.from(r.outputs[0]!, 'base64').toString('utf8'))).toEqual(SETS[i]!.expected);
        expect(r.spki).toBe(native.importKey(Buffer.from(SETS[i]!.keyPem)).spki.toString('base64'));
      }
    }
    for (const out of await Promise.all(mainPending)) {
      expect(JSON.parse(out.toString('utf8'))).toEqual(SETS[0]!.expected);
    }
  });

  it('4 workers verify signatures and verify-and-decrypt every token at once, sync and async', async () => {
    const sets = SETS.map(({ expected: _expected, ...rest }) => rest);
    const runs = Array.from({ length: 4 }, () => run({ sets, rounds: 25, mode: 'verify' }));
    // The main thread verifies on the shared pool at the same time, with one signer handle.
    const main = SETS[0]!;
    const signer = native.importPublicKey(Buffer.from(main.spki, 'base64'));
    const mainKey = native.importKey(Buffer.from(main.keyPem));
    const mainPending = Array.from({ length: 50 }, () =>
      calls.verifyAndDecryptECAsync(
        signer,
        Buffer.from(main.message, 'base64'),
        Buffer.from(main.signature, 'base64'),
        mainKey,
        Buffer.from(main.header, 'base64'),
        Buffer.from(main.partyV, 'hex'),
        Buffer.from(main.data, 'base64'),
      ),
    );
    const results = (await Promise.all(runs.map((r) => r.result))) as {
      name: string;
      verdicts: boolean[];
      outputs: string[];
      badCodes: string[];
    }[][];
    for (const r of runs) await r.worker.terminate();

    expect(results).toHaveLength(4);
    for (const perWorker of results) {
      expect(perWorker.map((r) => r.name)).toEqual(SETS.map((s) => s.name));
      for (const [i, r] of perWorker.entries()) {
        expect(r.verdicts).toEqual([false, true]); // the good signature always true, the flipped one always false
        expect(r.outputs).toHaveLength(1);
        expect(JSON.parse(Buffer.from(r.outputs[0]!, 'base64').toString('utf8'))).toEqual(SETS[i]!.expected);
        expect(r.badCodes).toEqual(['ERR_SIGNATURE']);
      }
    }
    for (const out of await Promise.all(mainPending)) expect(JSON.parse(out.toString('utf8'))).toEqual(main.expected);
  });

  it('terminating workers with decryptions and verifications in flight neither crashes nor disturbs the main thread', async () => {
    const sets = SETS.slice(0, 1).map(({ expected: _expected, ...rest }) => rest);
    const runs = Array.from({ length: 4 }, () => run({ sets, rounds: 0, mode: 'abandon' }));
    await Promise.all(runs.map((r) => r.result));
    await Promise.all(runs.map((r) => r.worker.terminate()));
    const key = native.importKey(Buffer.from(SETS[0]!.keyPem));
    const out = await calls.decryptECAsync(
      key,
      Buffer.from(SETS[0]!.header, 'base64'),
      Buffer.from(SETS[0]!.partyV, 'hex'),
      Buffer.from(SETS[0]!.data, 'base64'),
    );
    expect(JSON.parse(out.toString('utf8'))).toEqual(SETS[0]!.expected);
  });

  it('one handle is used from every pool thread at once (EC and RSA interleaved)', async () => {
    const ec = SETS[0]!;
    const rsa = SETS[2]!;
    const ecKey = native.importKey(Buffer.from(ec.keyPem));
    const rsaKey = native.importKey(Buffer.from(rsa.keyPem));
    const args = (s: SetData): [Buffer, Buffer, Buffer] => [
      Buffer.from(s.header, 'base64'),
      Buffer.from(s.partyV, 'hex'),
      Buffer.from(s.data, 'base64'),
    ];
    const [eph, partyV, ecData] = args(ec);
    const [wrapped, , rsaData] = args(rsa);
    const pending: Promise<[Buffer, unknown]>[] = [];
    for (let i = 0; i < 400; i++) {
      pending.push(calls.decryptECAsync(ecKey, eph, partyV, ecData).then((b) => [b, ec.expected]));
      pending.push(calls.decryptRSAAsync(rsaKey, wrapped, rsaData).then((b) => [b, rsa.expected]));
    }
    for (const [out, expected] of await Promise.all(pending)) expect(JSON.parse(out.toString('utf8'))).toEqual(expected);
  });
});
