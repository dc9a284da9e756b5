// redisReplayGuard against a real redis-server: the SET it sends, and the property it exists for: two
// verifier processes sharing one Redis accept a token exactly once, and refuse everything (fail closed)
// while Redis is down, then recover when it is back.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEFAULT_REDIS_KEY_PREFIX, redisReplayGuard, type RedisSetNxClient } from '../lib/index.js';
import type { PaymentData } from '../test-vectors/gen/token.js';
import { mint, ROOT, testVerifier } from './helpers.js';
import { startRedis, type TestRedis } from './redis-server.js';

let server: TestRedis;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true, maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined);
  await redis.connect();
});

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

const hexId = (): string => randomBytes(32).toString('hex');
const inAMinute = (): Date => new Date(Date.now() + 60_000);

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return out;
}

describe('redisReplayGuard', () => {
  test('claims a transactionId once, whatever its case, under the default prefix', async () => {
    const guard = redisReplayGuard(redis);
    const id = hexId();
    await expect(guard.claim(id, inAMinute())).resolves.toBe(true);
    await expect(guard.claim(id, inAMinute())).resolves.toBe(false);
    await expect(guard.claim(id.toUpperCase(), inAMinute())).resolves.toBe(false);
    expect(await redis.exists(`${DEFAULT_REDIS_KEY_PREFIX}${id}`)).toBe(1);
    expect(await redis.exists(`${DEFAULT_REDIS_KEY_PREFIX}${id.toUpperCase()}`)).toBe(0);
  });

  test('sends SET key value PX <time left> NX, at least 1 ms, under the configured prefix', async () => {
    const calls: unknown[][] = [];
    const recording: RedisSetNxClient = {
      set: (...args) => {
        calls.push(args);
        return redis.set(...args);
      },
    };
    const now = new Date('2030-01-01T00:00:00Z');
    const guard = redisReplayGuard(recording, { keyPrefix: 'test:replay:', clock: () => now });
    const id = hexId();
    await expect(guard.claim(id, new Date(now.getTime() + 359_000))).resolves.toBe(true);
    expect(calls[0]).toEqual([`test:replay:${id}`, String(now.getTime()), 'PX', 359_000, 'NX']);
    const pttl = await redis.pttl(`test:replay:${id}`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(359_000);

    // Redis refuses PX 0, so an expiry already due is sent as 1 ms: the claim answers instead of failing.
    await expect(redis.set(`test:replay:${hexId()}`, 'x', 'PX', 0, 'NX')).rejects.toThrow(/invalid expire/i);
    const due = hexId();
    await expect(guard.claim(due, new Date(now.getTime() - 5_000))).resolves.toBe(true);
    expect(calls[1]?.[3]).toBe(1);
    // And the entry does go away, after which the id can be claimed again.
    for (let i = 0; i < 200 && (await redis.exists(`test:replay:${due}`)) === 1; i++) await sleep(5);
    await expect(guard.claim(due, new Date(now.getTime() + 1_000))).resolves.toBe(true);
  });

  test('an answer other than OK or null fails the claim, and the verification closed', async () => {
    const odd = redisReplayGuard({ set: () => Promise.resolve('QUEUED') });
    await expect(odd.claim(hexId(), inAMinute())).rejects.toThrow(/unexpected reply/);
    const verifier = testVerifier({ replayGuard: odd });
    await expect(verifier.verifyAndDecrypt(mint({ version: 'EC_v1' }).paymentData)).rejects.toMatchObject({
      code: 'REPLAY_STORE_UNAVAILABLE',
    });
  });

  test('refuses, at construction, a client without set() and a prefix that is not a string', () => {
    const configError = expect.objectContaining({ name: 'ApplePayError', code: 'CONFIG_INVALID' });
    expect(() => redisReplayGuard({} as never)).toThrow(configError);
    expect(() => redisReplayGuard(null as never)).toThrow(configError);
    expect(() => redisReplayGuard(redis, { keyPrefix: 5 as never })).toThrow(configError);
    expect(() => redisReplayGuard(redis, { clock: 'now' as never })).toThrow(configError);
  });

  test('in a verifier: accepted once, replays refused, the entry kept for the whole acceptance window', async () => {
    const calls: unknown[][] = [];
    const recording: RedisSetNxClient = {
      set: (...args) => {
        calls.push(args);
        return redis.set(...args);
      },
    };
    const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
    const clock = (): Date => new Date(signingTime.getTime() + 1_000);
    const verifier = testVerifier({ replayGuard: redisReplayGuard(recording, { clock }), clock });
    const { paymentData, expected } = mint({ version: 'RSA_v1', signingTime });
    await expect(verifier.verifyAndDecrypt(paymentData)).resolves.toMatchObject({ transactionId: expected.transactionId });
    await expect(verifier.verifyAndDecrypt(paymentData)).rejects.toMatchObject({ code: 'REPLAY_DETECTED' });
    const upper = { ...paymentData, header: { ...paymentData.header, transactionId: paymentData.header.transactionId.toUpperCase() } };
    await expect(verifier.verifyAndDecrypt(upper)).rejects.toMatchObject({ code: 'REPLAY_DETECTED' });
    // Signing time + 300 s maximum age + 60 s skew, counted from the verifier's now (signing time + 1 s).
    expect(calls[0]?.slice(2)).toEqual(['PX', 359_000, 'NX']);
  });
});

// ---------------------------------------------------------------------------
// Two processes, one Redis

interface VerifierProcess {
  verify(token: PaymentData): Promise<string>;
  close(): Promise<void>;
}

async function startVerifierProcess(port: number): Promise<VerifierProcess> {
  const child: ChildProcess = fork(join(ROOT, 'test', 'fixtures', 'replay-worker.ts'), [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, REDIS_PORT: String(port) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, (code: string) => void>();
  let nextId = 0;
  let failure: Error | null = null;
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('verifier process not ready after 30 s')), 30_000);
    child.on('message', (message: { ready?: true; id?: number; code?: string }) => {
      if (message.ready) {
        clearTimeout(timer);
        resolve();
      } else if (message.id !== undefined && message.code !== undefined) {
        pending.get(message.id)?.(message.code);
        pending.delete(message.id);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      failure = new Error(`verifier process exited (${code ?? signal})`);
      reject(failure);
      // An answer that never comes must fail the test, not hang it.
      for (const settle of pending.values()) settle(`EXITED`);
      pending.clear();
    });
  });
  await ready;
  return {
    verify(token) {
      if (failure !== null) return Promise.reject(failure);
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        child.send({ id, token });
      });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

const mintMany = (n: number): PaymentData[] =>
  Array.from({ length: n }, (_, i) => mint({ version: i % 8 === 0 ? 'RSA_v1' : 'EC_v1' }).paymentData);

/** Sends every token to both processes at the same moment; the codes come back in process order. */
const race = (a: VerifierProcess, b: VerifierProcess, tokens: readonly PaymentData[], lanes = 32): Promise<string[][]> =>
  mapLimit(tokens, lanes, (token) => Promise.all([a.verify(token), b.verify(token)]));

const verdict = (codes: readonly string[]): string => [...codes].sort().join(',');

describe('two verifier processes sharing one Redis', () => {
  let a: VerifierProcess;
  let b: VerifierProcess;

  beforeAll(async () => {
    [a, b] = await Promise.all([startVerifierProcess(server.port), startVerifierProcess(server.port)]);
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  test('the same token sent to both at once is accepted exactly once, over 1,000 tokens', async () => {
    const tokens = mintMany(1000);
    const keysBefore = await redis.dbsize();
    const outcomes = await race(a, b, tokens);
    const wrong = outcomes.map((codes, i) => ({ i, codes })).filter(({ codes }) => verdict(codes) !== 'OK,REPLAY_DETECTED');
    expect(wrong).toEqual([]);
    expect((await redis.dbsize()) - keysBefore).toBe(1000);
  });

  test('Redis killed mid-run: nothing accepted while it is down (REPLAY_STORE_UNAVAILABLE), recovery after a restart', async () => {
    // Kill while tokens are in flight. A claim that reached Redis before the kill may have won; none may
    // win twice, and no answer other than these three is acceptable.
    const inFlight = mintMany(300);
    let answered = 0;
    let killed: Promise<void> | null = null;
    const during = await mapLimit(inFlight, 16, async (token) => {
      const codes = await Promise.all([a.verify(token), b.verify(token)]);
      if (++answered === 100) killed = server.kill();
      return codes;
    });
    await killed;
    // A SET applied just before the kill but never answered gives REPLAY_STORE_UNAVAILABLE to its sender and
    // REPLAY_DETECTED to the other: nobody accepted, which is the safe side.
    const allowed = new Set([
      'OK,REPLAY_DETECTED',
      'OK,REPLAY_STORE_UNAVAILABLE',
      'REPLAY_DETECTED,REPLAY_STORE_UNAVAILABLE',
      'REPLAY_STORE_UNAVAILABLE,REPLAY_STORE_UNAVAILABLE',
    ]);
    expect(during.map(verdict).filter((v) => !allowed.has(v))).toEqual([]);
    expect(during.flat()).toContain('REPLAY_STORE_UNAVAILABLE');

    // Redis is gone: every claim fails, promptly (no offline queue), and fails closed.
    const whileDown = mintMany(50);
    const downOutcomes = await race(a, b, whileDown);
    expect(downOutcomes.flat().filter((code) => code !== 'REPLAY_STORE_UNAVAILABLE')).toEqual([]);
    const acceptedBefore = inFlight.filter((_, i) => during[i]!.includes('OK')).slice(0, 10);
    expect((await race(a, b, acceptedBefore)).flat().filter((code) => code !== 'REPLAY_STORE_UNAVAILABLE')).toEqual([]);

    await server.restart();
    // Each process reconnects on its own schedule: probe each with fresh tokens until one is accepted.
    for (const worker of [a, b]) {
      let code = '';
      for (let attempt = 0; attempt < 200 && code !== 'OK'; attempt++) {
        code = await worker.verify(mint({ version: 'EC_v1' }).paymentData);
        if (code !== 'OK') {
          expect(code).toBe('REPLAY_STORE_UNAVAILABLE');
          await sleep(25);
        }
      }
      expect(code).toBe('OK');
    }

    // Back to exactly once, and the tokens refused during the outage were not used up by it.
    const after = await race(a, b, [...mintMany(100), ...whileDown]);
    expect(after.map(verdict).filter((v) => v !== 'OK,REPLAY_DETECTED')).toEqual([]);
  });
});
