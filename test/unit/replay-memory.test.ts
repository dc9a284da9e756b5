// memoryReplayGuard: space freed by expiry whatever the insertion order, expired entries swept in
// bounded slices, the right code when full, and one guard per worker thread (with a warning), while a
// shared Redis guard holds across worker threads.
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { memoryReplayGuard } from '../../lib/index.js';
import type { PaymentData } from '../../test-vectors/gen/token.js';
import { pki, testVerifier, mint } from '../support/helpers.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { logFigure, mapLimit, mintMany, verdict } from '../support/replay.js';

describe('memoryReplayGuard', () => {
  test('a full guard frees space as soon as the earliest claim expires, whatever the insertion order', async () => {
    let t = 0;
    const guard = memoryReplayGuard({ maxEntries: 3, clock: () => new Date(t) });
    expect(await guard.acquire('aa', 360_000, 'o')).toBe(true);
    expect(await guard.acquire('bb', 61_000, 'o')).toBe(true);
    expect(await guard.acquire('cc', 360_000, 'o')).toBe(true);
    t = 30_000;
    await expect(guard.acquire('dd', 360_000, 'o')).rejects.toThrow(/full/);
    // Full is a store that cannot answer, and the verification fails closed with that code.
    const verifier = testVerifier({ replayGuard: guard, clock: () => new Date() });
    await expect(verifier.verifyAndDecrypt(mint({ version: 'EC_v1' }).paymentData)).rejects.toMatchObject({
      code: 'REPLAY_STORE_UNAVAILABLE',
    });
    t = 61_000;
    expect(await guard.acquire('dd', 360_000, 'o')).toBe(true);
    expect(await guard.acquire('aa', 360_000, 'o')).toBe(false);
    expect(await guard.acquire('cc', 360_000, 'o')).toBe(false);
    // bb expired and its slot went to dd: claiming it anew finds the guard full again.
    await expect(guard.acquire('bb', 360_000, 'o')).rejects.toThrow(/full/);
  });

  test('1,000,000 expired entries are swept in bounded slices, not by one claim', async () => {
    let t = 0;
    const guard = memoryReplayGuard({ clock: () => new Date(t) });
    for (let i = 0; i < 1_000_000; i++) void guard.acquire(i.toString(16), 1000 + (i % 7), 'o');
    expect(guard.size).toBe(1_000_000);
    t = 10_000;
    expect(await guard.acquire('new', 1000, 'o')).toBe(true);
    // One claim removed a slice, not everything that was due.
    expect(guard.size).toBeGreaterThan(999_000);
    // Expired ids are claimable at once, swept or not.
    expect(await guard.acquire((123_456).toString(16), 1000, 'o')).toBe(true);
    for (let i = 0; i < 5000 && guard.size > 2; i++) await guard.acquire(`n${i}`, 1, 'o');
    t = 20_000;
    for (let i = 0; i < 20 && guard.size > 0; i++) await guard.acquire(`m${i}`, 1, 'o');
    expect(guard.size).toBeLessThan(50);
  });

  test('release is compare-and-delete on the owner; the verifier releases its own accepted claim', async () => {
    const guard = memoryReplayGuard();
    expect(await guard.acquire('AB', 1000, 'one')).toBe(true);
    expect(await guard.release('ab', 'two')).toBe(false);
    expect(await guard.release('ab', 'one')).toBe(true);
    expect(await guard.acquire('ab', 1000, 'three')).toBe(true);
    const verifier = testVerifier({ replayGuard: memoryReplayGuard() });
    const { paymentData, expected } = mint({ version: 'EC_v1' });
    await expect(verifier.verifyAndDecrypt(paymentData)).resolves.toBeDefined();
    await expect(verifier.release(expected.transactionId)).resolves.toBe(true);
    await expect(verifier.verifyAndDecrypt(paymentData)).resolves.toBeDefined();
    await expect(verifier.verifyAndDecrypt(paymentData)).rejects.toMatchObject({ code: 'REPLAY_DETECTED' });
  });

  test("a legacy guard (claim with an expiry date) gets the verifier's lifetime as a date on the wall clock", async () => {
    const seen: number[] = [];
    const legacy = {
      claim: (_id: string, expiresAt: Date) => {
        seen.push(expiresAt.getTime() - Date.now());
        return Promise.resolve(true);
      },
    };
    const signingTime = new Date(Date.now() - 5 * 86_400_000);
    const verifier = testVerifier({ replayGuard: legacy });
    await verifier.verifyAndDecrypt(mint({ version: 'EC_v1', signingTime }).paymentData, { now: new Date(signingTime.getTime() + 1000) });
    expect(seen[0]).toBeGreaterThan(86_399_000);
    expect(seen[0]).toBeLessThanOrEqual(86_400_000);
  });
});

// ---------------------------------------------------------------------------
// worker_threads

function threadData(mode: string, port = 0): Record<string, unknown> {
  const p = pki();
  return {
    mode,
    port,
    root: p.root.certPem,
    merchants: [
      { certificate: p.merchants.ec.certPem, privateKey: readFileSync(p.merchants.ec.keyPath, 'utf8') },
      { certificate: p.merchants.rsa.certPem, privateKey: readFileSync(p.merchants.rsa.keyPath, 'utf8') },
    ],
  };
}

const WORKER = new URL('../integration/fixtures/replay-thread.mjs', import.meta.url);

describe('worker threads', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  test('memoryReplayGuard created in a worker thread warns that it protects that worker only', async () => {
    const worker = new Worker(WORKER, { workerData: threadData('memory') });
    const report = await new Promise<{ hooked: string[]; emitted: string[] }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no report from the worker')), 20_000);
      worker.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(report.hooked).toEqual(['APPLEPAY_VERIFY_MEMORY_GUARD_PER_WORKER']);
    expect(report.emitted).toEqual(['APPLEPAY_VERIFY_MEMORY_GUARD_PER_WORKER']);
    // The main thread's guard stays silent.
    const warnings: string[] = [];
    memoryReplayGuard({ onWarning: (_m, code) => warnings.push(code) });
    expect(warnings).toEqual([]);
  });

  test('two worker threads sharing one Redis guard accept each token exactly once', async () => {
    const workers = [
      new Worker(WORKER, { workerData: threadData('redis', redis.port) }),
      new Worker(WORKER, { workerData: threadData('redis', redis.port) }),
    ];
    try {
      const pending = new Map<string, (code: string) => void>();
      let n = 0;
      await Promise.all(
        workers.map(
          (w, wi) =>
            new Promise<void>((resolve, reject) => {
              const timer = setTimeout(() => reject(new Error('worker not ready')), 20_000);
              w.on('message', (m: { ready?: boolean; id?: string; code?: string }) => {
                if (m.ready) {
                  clearTimeout(timer);
                  resolve();
                } else if (m.id !== undefined) {
                  pending.get(`${wi}:${m.id}`)?.(m.code!);
                }
              });
              w.once('error', reject);
            }),
        ),
      );
      const ask = (wi: number, token: PaymentData): Promise<string> =>
        new Promise((resolve) => {
          const id = String(n++);
          pending.set(`${wi}:${id}`, resolve);
          workers[wi]!.postMessage({ id, token });
        });
      const tokens = mintMany(200);
      const outcomes = await mapLimit(tokens, 16, (token) => Promise.all([ask(0, token), ask(1, token)]));
      const wrong = outcomes.map(verdict).filter((v) => v !== 'OK,REPLAY_DETECTED');
      logFigure({
        store: 'redis',
        failure: 'two worker threads, 200 tokens raced',
        doubleAccepts: outcomes.filter((c) => verdict(c) === 'OK,OK').length,
        burnedTokens: 0,
      });
      expect(wrong).toEqual([]);
    } finally {
      for (const w of workers) {
        w.postMessage('close');
        await w.terminate();
      }
    }
  });
});
