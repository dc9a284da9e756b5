// redisReplayGuard against a real redis-server: the script it runs, the property it exists for (two
// verifier processes sharing one Redis accept a token exactly once), and a kill and restart of the
// server in the middle of a run: nothing accepted twice, no token burned, every answer prompt.
// The other failure modes (eviction, failover, pauses, lost replies, clock skew) are in
// replay-failures.test.ts.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEFAULT_REDIS_KEY_PREFIX, redisReplayGuard, type RedisReplayClient } from '../../lib/index.js';
import { mint, testVerifier } from '../support/helpers.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import {
  hexId,
  killRestartDrill,
  logFigure,
  mintMany,
  race,
  startVerifierProcess,
  verdict,
  type VerifierProcess,
} from '../support/replay.js';

let server: TestRedis;
let redis: Redis;

beforeAll(async () => {
  // AOF with fsync at every write: the kill-and-restart drill must find the claims it was told about.
  server = await startRedis({ aof: true });
  redis = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true, maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined);
  await redis.connect();
});

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

const quiet = { onWarning: () => undefined };

describe('redisReplayGuard', () => {
  test('acquire records the owner for the lifetime given, once, whatever the case of the id; release is compare-and-delete', async () => {
    const guard = redisReplayGuard(redis, quiet);
    const id = hexId();
    await expect(guard.acquire(id, 359_000, 'owner-a')).resolves.toBe(true);
    await expect(guard.acquire(id, 359_000, 'owner-b')).resolves.toBe(false);
    await expect(guard.acquire(id.toUpperCase(), 359_000, 'owner-c')).resolves.toBe(false);
    const key = `${DEFAULT_REDIS_KEY_PREFIX}${id}`;
    expect(await redis.get(key)).toBe('owner-a');
    const pttl = await redis.pttl(key);
    expect(pttl).toBeGreaterThan(350_000);
    expect(pttl).toBeLessThanOrEqual(359_000);
    // Only the owner's release deletes it.
    await expect(guard.release(id, 'owner-b')).resolves.toBe(false);
    expect(await redis.exists(key)).toBe(1);
    await expect(guard.release(id.toUpperCase(), 'owner-a')).resolves.toBe(true);
    expect(await redis.exists(key)).toBe(0);
    await expect(guard.acquire(id, 1, 'owner-d')).resolves.toBe(true);
    // A 1 ms claim does go away, after which the id can be claimed again.
    for (let i = 0; i < 200 && (await redis.exists(key)) === 1; i++) await new Promise((r) => setTimeout(r, 5));
    await expect(guard.acquire(id, 1000, 'owner-e')).resolves.toBe(true);
  });

  test("an answer other than the script's fails the claim, and the verification closed", async () => {
    const odd: RedisReplayClient = {
      eval: () => Promise.resolve('QUEUED'),
      info: () => Promise.resolve('maxmemory_policy:noeviction\r\n'),
    };
    const guard = redisReplayGuard(odd, quiet);
    await expect(guard.acquire(hexId(), 1000, 'o')).rejects.toThrow(/unexpected reply/);
    const verifier = testVerifier({ replayGuard: guard });
    await expect(verifier.verifyAndDecrypt(mint({ version: 'EC_v1' }).paymentData)).rejects.toMatchObject({
      code: 'REPLAY_STORE_UNAVAILABLE',
    });
  });

  test('refuses, at construction, a client without eval()/info(), and bad options', () => {
    const configError = expect.objectContaining({ name: 'ApplePayError', code: 'CONFIG_INVALID' });
    expect(() => redisReplayGuard({} as never)).toThrow(configError);
    expect(() => redisReplayGuard(null as never)).toThrow(configError);
    expect(() => redisReplayGuard({ set: () => Promise.resolve('OK') } as never)).toThrow(configError);
    expect(() => redisReplayGuard(redis, { keyPrefix: 5 as never })).toThrow(configError);
    expect(() => redisReplayGuard(redis, { waitReplicas: -1 })).toThrow(configError);
    expect(() => redisReplayGuard(redis, { waitReplicas: 1.5 })).toThrow(configError);
    expect(() => redisReplayGuard(redis, { allowEvictingPolicy: 'yes' as never })).toThrow(configError);
    expect(() => redisReplayGuard({ eval: redis.eval.bind(redis), info: redis.info.bind(redis) }, { waitReplicas: 1 })).toThrow(
      configError,
    );
  });

  test('warns once, through the hook, when the ioredis client is not fail-fast', () => {
    const warnings: string[] = [];
    const lax = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true });
    redisReplayGuard(lax, { onWarning: (_message, code) => warnings.push(code) });
    expect(warnings).toEqual(['APPLEPAY_VERIFY_REDIS_NOT_FAIL_FAST']);
    const strict = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true, enableOfflineQueue: false, commandTimeout: 500 });
    redisReplayGuard(strict, { onWarning: (_message, code) => warnings.push(code) });
    expect(warnings).toHaveLength(1);
    lax.disconnect();
    strict.disconnect();
  });

  test("in a verifier: accepted once, replays refused, kept for replayRetention (24 h by default) counted from the verifier's instant", async () => {
    const verifier = testVerifier({ replayGuard: redisReplayGuard(redis, quiet) });
    const { paymentData, expected } = mint({ version: 'RSA_v1' });
    await expect(verifier.verifyAndDecrypt(paymentData)).resolves.toMatchObject({ transactionId: expected.transactionId });
    await expect(verifier.verifyAndDecrypt(paymentData)).rejects.toMatchObject({ code: 'REPLAY_DETECTED' });
    const upper = { ...paymentData, header: { ...paymentData.header, transactionId: paymentData.header.transactionId.toUpperCase() } };
    await expect(verifier.verifyAndDecrypt(upper)).rejects.toMatchObject({ code: 'REPLAY_DETECTED' });
    const pttl = await redis.pttl(`${DEFAULT_REDIS_KEY_PREFIX}${expected.transactionId}`);
    expect(pttl).toBeGreaterThan(86_300_000);
    expect(pttl).toBeLessThanOrEqual(86_400_000);
  });

  test("verifier.release(): a charge that failed after verification gives the token back, once, to this verifier's own claim only", async () => {
    const verifier = testVerifier({ replayGuard: redisReplayGuard(redis, quiet) });
    const other = testVerifier({ replayGuard: redisReplayGuard(redis, quiet) });
    const { paymentData, expected } = mint({ version: 'EC_v1' });
    await expect(verifier.verifyAndDecrypt(paymentData)).resolves.toBeDefined();
    await expect(other.release(expected.transactionId)).resolves.toBe(false);
    await expect(verifier.release(expected.transactionId.toUpperCase())).resolves.toBe(true);
    await expect(verifier.release(expected.transactionId)).resolves.toBe(false);
    // The customer's retry, on another instance, is accepted; a replay after it is not.
    await expect(other.verifyAndDecrypt(paymentData)).resolves.toBeDefined();
    await expect(verifier.verifyAndDecrypt(paymentData)).rejects.toMatchObject({ code: 'REPLAY_DETECTED' });
    await expect(verifier.release('not hex')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('two verifier processes sharing one Redis', () => {
  let a: VerifierProcess;
  let b: VerifierProcess;

  beforeAll(async () => {
    const env = { REPLAY_STORE: 'redis', REDIS_PORT: String(server.port) };
    [a, b] = await Promise.all([startVerifierProcess(env), startVerifierProcess(env)]);
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
    // One key per token (plus the guard's sentinel, written once).
    expect((await redis.dbsize()) - keysBefore).toBeGreaterThanOrEqual(1000);
    expect((await redis.dbsize()) - keysBefore).toBeLessThanOrEqual(1001);
    logFigure({ store: 'redis', failure: 'race of 2 processes, 1,000 tokens', doubleAccepts: 0, burnedTokens: 0 });
  });

  test('Redis (AOF) killed mid-run and restarted: refused while down, no double accept, no burned token', async () => {
    const result = await killRestartDrill(a, b, server);
    logFigure({
      store: 'redis (AOF)',
      failure: 'kill -9 and restart mid-run',
      maxAnswerMs: result.downMaxMs,
      doubleAccepts: result.doubleAccepts,
      burnedTokens: result.burnedTokens,
    });
    expect(result.unexpected).toEqual([]);
    expect(result.doubleAccepts).toBe(0);
    expect(result.burnedTokens).toBe(0);
    // Bounded by the verifier's replayTimeout (1 s) with a margin for a loaded machine.
    expect(result.downMaxMs).toBeLessThan(2500);
  });
});
