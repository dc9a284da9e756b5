// The replay guard against the ways real Redis deployments fail, each on real redis-servers on loopback:
// an evicting memory policy, failover to an asynchronous replica, a restart with and without
// persistence, a paused server, slow and resetting connections, clock skew between verifiers and a
// retry while the first verification is in flight. Each test logs its figures ("[replay-figure]").
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEFAULT_REDIS_KEY_PREFIX, redisReplayGuard, type ReplayGuard, type Verifier, type VerifierOptions } from '../../lib/index.js';
import type { PaymentData } from '../../test-vectors/gen/token.js';
import { mint, testVerifier } from '../support/helpers.js';
import { failFastRedis } from '../support/redis-client.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { logFigure, mapLimit, mintMany, outcome } from '../support/replay.js';
import { startProxy, type TcpProxy } from '../support/tcp-proxy.js';

const clients: Redis[] = [];
const servers: TestRedis[] = [];

/** The README's fail-fast settings. */
function failFast(port: number, extra: RedisOptions = {}): Redis {
  const client = failFastRedis(port, extra);
  clients.push(client);
  return client;
}

/** ioredis as it comes: offline queue on, no command timeout, commands resent after a reconnection. */
function defaults(port: number): Redis {
  const client = new Redis({ host: '127.0.0.1', port });
  client.on('error', () => undefined);
  clients.push(client);
  return client;
}

async function server(options: Parameters<typeof startRedis>[0] = {}): Promise<TestRedis> {
  const s = await startRedis(options);
  servers.push(s);
  return s;
}

const quiet = { onWarning: () => undefined };

function verifierOn(guard: ReplayGuard, options: Partial<VerifierOptions> = {}): Verifier {
  return testVerifier({ replayGuard: guard, ...options });
}

/** Codes for each token, verified concurrently. */
const verifyAll = (verifier: Verifier, tokens: readonly PaymentData[]): Promise<{ code: string; ms: number }[]> =>
  mapLimit(tokens, 16, (token) => outcome(verifier, token));

const count = (codes: readonly { code: string }[], code: string): number => codes.filter((c) => c.code === code).length;
const slowest = (codes: readonly { ms: number }[]): number => Math.max(0, ...codes.map((c) => c.ms));

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all(servers.map((s) => s.stop()));
});

describe('row 1: an evicting maxmemory-policy', () => {
  test('is refused (every claim fails closed, ready() is a configuration error); accepted on request, it drops claims under memory pressure', async () => {
    const s = await server({ maxmemoryPolicy: 'volatile-lru', maxmemory: '4mb' });
    const client = failFast(s.port);
    await until(async () => client.status === 'ready');
    const warnings: string[] = [];
    const guard = redisReplayGuard(client, { onWarning: (_m, code) => warnings.push(code) });
    await expect(guard.ready()).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    const refused = await verifyAll(verifierOn(guard), mintMany(10));
    expect(count(refused, 'REPLAY_STORE_UNAVAILABLE')).toBe(10);
    expect(warnings).toContain('APPLEPAY_VERIFY_REDIS_EVICTING');

    // What the refusal prevents: the same server, the risk accepted, 50 claims, then memory pressure.
    const risky = verifierOn(redisReplayGuard(client, { ...quiet, allowEvictingPolicy: true }));
    const tokens = mintMany(50);
    expect(count(await verifyAll(risky, tokens), 'OK')).toBe(50);
    const filler = 'x'.repeat(4096);
    for (let i = 0; i < 3000; i += 100) {
      const batch = client.pipeline();
      for (let j = i; j < i + 100; j++) batch.set(`filler:${j}`, filler, 'EX', 3600);
      await batch.exec();
    }
    const doubles = count(await verifyAll(risky, tokens), 'OK');
    logFigure({
      store: 'redis volatile-lru',
      failure: 'eviction (guard default: refused)',
      doubleAccepts: 0,
      burnedTokens: 0,
      note: `10/10 refused; with allowEvictingPolicy ${doubles}/50 accepted again`,
    });
    expect(doubles).toBeGreaterThan(0);
  });
});

describe('row 2: failover to an asynchronous replica', () => {
  test('claims confirmed by WAIT survive the failover; unconfirmed ones are refused and released, not lost', async () => {
    const primary = await server();
    // The replica follows the primary through a proxy that can cut the replication stream.
    const link = await startProxy(primary.port);
    const replica = await server({ replicaOf: link.port });
    const onReplica = failFast(replica.port);
    await until(async () => onReplica.status === 'ready' && /master_link_status:up/.test(await onReplica.info('replication')));
    const p = failFast(primary.port);
    await until(async () => p.status === 'ready');
    const waiting = verifierOn(redisReplayGuard(p, { ...quiet, waitReplicas: 1, waitTimeoutMs: 300 }));
    const plain = verifierOn(redisReplayGuard(p, quiet));

    const confirmed = mintMany(5);
    expect(count(await verifyAll(waiting, confirmed), 'OK')).toBe(5);
    // The replication stream stops arriving: WAIT cannot confirm, so the claim is taken back and refused.
    link.mode = { kind: 'blackhole' };
    const unconfirmed = mintMany(5);
    const refused = await verifyAll(waiting, unconfirmed);
    expect(count(refused, 'REPLAY_STORE_UNAVAILABLE')).toBe(5);
    // Released by the guard, or (a WAIT queued behind others past the deadline) by the verifier just after.
    await until(
      async () => (await p.exists(...unconfirmed.map((t) => DEFAULT_REDIS_KEY_PREFIX + t.header.transactionId.toLowerCase()))) === 0,
      5000,
    );
    // Without WAIT the same moment accepts claims the replica never gets.
    const unreplicated = mintMany(5);
    expect(count(await verifyAll(plain, unreplicated), 'OK')).toBe(5);

    await primary.kill();
    await link.close();
    await until(async () => onReplica.status === 'ready');
    await onReplica.replicaof('NO', 'ONE');
    const promoted = verifierOn(redisReplayGuard(onReplica, quiet));
    const afterConfirmed = await verifyAll(promoted, confirmed);
    const afterUnconfirmed = await verifyAll(promoted, unconfirmed);
    const afterUnreplicated = await verifyAll(promoted, unreplicated);
    logFigure({
      store: 'redis primary+replica, waitReplicas: 1',
      failure: 'replication cut, primary killed, replica promoted',
      maxAnswerMs: slowest(refused),
      doubleAccepts: count(afterConfirmed, 'OK'),
      burnedTokens: 5 - count(afterUnconfirmed, 'OK'),
      note: `without waitReplicas: ${count(afterUnreplicated, 'OK')}/5 accepted again`,
    });
    expect(count(afterConfirmed, 'REPLAY_DETECTED')).toBe(5);
    expect(count(afterUnconfirmed, 'OK')).toBe(5);
    expect(count(afterUnreplicated, 'OK')).toBe(5);
    expect(slowest(refused)).toBeLessThan(2500);
  });
});

describe('row 3: a restart', () => {
  // A short window so that the fence (one claim lifetime) ends within the test.
  const short: Partial<VerifierOptions> = { maxSignatureAge: 2, maxClockSkew: 0, replayRetention: 3 };

  test('without persistence: every verifier that used the store fences itself for one retention period, then recovers', async () => {
    const s = await server();
    const c1 = failFast(s.port);
    const c2 = failFast(s.port);
    await until(async () => c1.status === 'ready' && c2.status === 'ready');
    const v1 = verifierOn(redisReplayGuard(c1, quiet), short);
    const v2 = verifierOn(redisReplayGuard(c2, quiet), short);
    const tokens = mintMany(10);
    expect(count(await verifyAll(v1, tokens), 'OK')).toBe(10);
    expect(count(await verifyAll(v2, mintMany(1)), 'OK')).toBe(1);
    await s.restart();
    await until(async () => c1.status === 'ready' && c2.status === 'ready');
    const replays = [...(await verifyAll(v1, tokens)), ...(await verifyAll(v2, tokens))];
    // A verifier started after the wipe agrees, through the fence key.
    const late = failFast(s.port);
    await until(async () => late.status === 'ready');
    const v3 = verifierOn(redisReplayGuard(late, quiet), short);
    replays.push(...(await verifyAll(v3, tokens)));
    logFigure({
      store: 'redis, no persistence',
      failure: 'restart (data lost)',
      maxAnswerMs: slowest(replays),
      doubleAccepts: count(replays, 'OK'),
      burnedTokens: 0,
      note: 'fenced for one retention period',
    });
    expect(count(replays, 'REPLAY_STORE_UNAVAILABLE')).toBe(30);
    await new Promise((r) => setTimeout(r, 3100));
    expect((await outcome(v1, mint({ version: 'EC_v1' }).paymentData)).code).toBe('OK');
  });

  test('with AOF (appendfsync always): claims survive a kill -9, no fence', async () => {
    const s = await server({ aof: true });
    const c = failFast(s.port);
    await until(async () => c.status === 'ready');
    const v = verifierOn(redisReplayGuard(c, quiet));
    const tokens = mintMany(10);
    expect(count(await verifyAll(v, tokens), 'OK')).toBe(10);
    await s.restart();
    await until(async () => c.status === 'ready');
    const replays = await verifyAll(v, tokens);
    logFigure({
      store: 'redis, AOF always',
      failure: 'kill -9 and restart',
      maxAnswerMs: slowest(replays),
      doubleAccepts: count(replays, 'OK'),
      burnedTokens: 0,
    });
    expect(count(replays, 'REPLAY_DETECTED')).toBe(10);
    expect((await outcome(v, mint({ version: 'EC_v1' }).paymentData)).code).toBe('OK');
  });
});

describe('rows 6 and 7: pauses, slow and lost replies, a dead server: an answer within the deadline, no burned token', () => {
  let s: TestRedis;
  let proxy: TcpProxy;

  beforeAll(async () => {
    s = await server({ aof: true });
    proxy = await startProxy(s.port);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  /** Until the client has connected: a fail-fast client refuses commands before that. */
  async function warm(verifier: Verifier): Promise<void> {
    await until(async () => (await outcome(verifier, mint({ version: 'EC_v1' }).paymentData)).code === 'OK');
  }

  test('Redis paused (SIGSTOP): fail-fast and default clients both answer within the deadline; the retries succeed after SIGCONT', async () => {
    const fast = verifierOn(redisReplayGuard(failFast(s.port), quiet));
    const lax = verifierOn(redisReplayGuard(defaults(s.port), quiet));
    await warm(fast);
    await warm(lax);
    const tokens = mintMany(20);
    s.pause();
    let during: { code: string; ms: number }[];
    try {
      during = [...(await verifyAll(fast, tokens.slice(0, 10))), ...(await verifyAll(lax, tokens.slice(10)))];
    } finally {
      s.resume();
    }
    expect(count(during, 'REPLAY_STORE_UNAVAILABLE')).toBe(20);
    const retries = [...(await verifyAll(fast, tokens.slice(0, 10))), ...(await verifyAll(lax, tokens.slice(10)))];
    const replays = [...(await verifyAll(fast, tokens.slice(0, 10))), ...(await verifyAll(lax, tokens.slice(10)))];
    logFigure({
      store: 'redis',
      failure: 'paused (SIGSTOP), fail-fast and ioredis-default clients',
      maxAnswerMs: slowest(during),
      doubleAccepts: count(replays, 'OK'),
      burnedTokens: 20 - count(retries, 'OK'),
    });
    expect(count(retries, 'OK')).toBe(20);
    expect(count(replays, 'REPLAY_DETECTED')).toBe(20);
    expect(slowest(during)).toBeLessThan(2500);
  });

  test('Redis killed with an ioredis-default client (offline queue, no command timeout): refused within the deadline, then recovered', async () => {
    const lax = verifierOn(redisReplayGuard(defaults(s.port), quiet));
    await warm(lax);
    await s.kill();
    const tokens = mintMany(5);
    const during = await verifyAll(lax, tokens);
    await s.restart();
    let retries: { code: string; ms: number }[] = [];
    await until(async () => {
      retries = await verifyAll(lax, tokens);
      return count(retries, 'OK') + count(retries, 'REPLAY_DETECTED') === 5;
    });
    logFigure({
      store: 'redis',
      failure: 'killed, ioredis-default client',
      maxAnswerMs: slowest(during),
      doubleAccepts: 0,
      burnedTokens: 5 - count(retries, 'OK'),
    });
    expect(count(during, 'REPLAY_STORE_UNAVAILABLE')).toBe(5);
    expect(slowest(during)).toBeLessThan(2500);
    expect(count(retries, 'OK')).toBe(5);
  });

  test('a 2 s round trip: refused at the deadline; the claims the slow replies applied are released, the retries succeed', async () => {
    const client = failFast(proxy.port, { commandTimeout: 5000 });
    const verifier = verifierOn(redisReplayGuard(client, quiet));
    await warm(verifier);
    const tokens = mintMany(10);
    proxy.mode = { kind: 'delay', ms: 2000 };
    let during: { code: string; ms: number }[];
    try {
      during = await verifyAll(verifier, tokens);
    } finally {
      proxy.mode = { kind: 'pass' };
    }
    expect(count(during, 'REPLAY_STORE_UNAVAILABLE')).toBe(10);
    // The late replies drain (the customer retries after a Retry-After); the claims were applied by
    // Redis, their replies only late: the retry must still pass.
    await new Promise((r) => setTimeout(r, 2100));
    const retries = await verifyAll(verifier, tokens);
    const replays = await verifyAll(verifier, tokens);
    logFigure({
      store: 'redis',
      failure: '2 s round trip (proxy)',
      maxAnswerMs: slowest(during),
      doubleAccepts: count(replays, 'OK'),
      burnedTokens: 10 - count(retries, 'OK'),
    });
    expect(count(retries, 'OK')).toBe(10);
    expect(count(replays, 'REPLAY_DETECTED')).toBe(10);
    expect(slowest(during)).toBeLessThan(2500);
  });

  test('the connection reset after the claim reached Redis: refused, released, and the retry succeeds (fail-fast and default clients)', async () => {
    const fast = verifierOn(redisReplayGuard(failFast(proxy.port), quiet));
    const lax = verifierOn(redisReplayGuard(defaults(proxy.port), quiet));
    await warm(fast);
    await warm(lax);
    const results: { code: string; ms: number }[] = [];
    const tokens = mintMany(6);
    for (const [i, token] of tokens.entries()) {
      proxy.mode = { kind: 'reset-after-request', times: 1 };
      results.push(await outcome(i < 3 ? fast : lax, token));
      proxy.mode = { kind: 'pass' };
    }
    // The fail-fast client reports the loss; the default one resends the claim, which is still its own.
    expect(count(results.slice(0, 3), 'REPLAY_STORE_UNAVAILABLE')).toBe(3);
    expect(count(results, 'REPLAY_DETECTED')).toBe(0);
    const retries: { code: string; ms: number }[] = [];
    for (const [i, token] of tokens.entries()) {
      const first = results[i]!.code;
      // A token already accepted (default client) is a replay now; the others must pass.
      const again = await outcome(i < 3 ? fast : lax, token);
      retries.push(first === 'OK' ? { ...again, code: again.code === 'REPLAY_DETECTED' ? 'OK' : `DOUBLE:${again.code}` } : again);
    }
    logFigure({
      store: 'redis',
      failure: 'connection reset after the claim (proxy)',
      maxAnswerMs: slowest(results),
      doubleAccepts: retries.filter((r) => r.code.startsWith('DOUBLE')).length,
      burnedTokens: 6 - count(retries, 'OK'),
    });
    expect(retries.map((r) => r.code)).toEqual(Array(6).fill('OK'));
  });

  test('a 1.5 s stall of the event loop (a GC pause) while the claim is out: answered, and never a burned token', async () => {
    const client = failFast(s.port);
    const inner = redisReplayGuard(client, quiet);
    const stalling: ReplayGuard = {
      acquire: (id, ttl, owner) => {
        const pending = inner.acquire(id, ttl, owner);
        // The claim is on the wire; the process then freezes past the deadline, as in a long GC pause.
        setTimeout(() => {
          const end = Date.now() + 1500;
          while (Date.now() < end);
        }, 0);
        return pending;
      },
      release: inner.release,
    };
    const verifier = verifierOn(stalling);
    const plain = verifierOn(inner);
    await warm(plain);
    const tokens = Array.from({ length: 3 }, () => mint({ version: 'EC_v1' }).paymentData);
    const first: { code: string; ms: number }[] = [];
    for (const token of tokens) first.push(await outcome(verifier, token));
    const retries: string[] = [];
    for (const [i, token] of tokens.entries()) {
      const again = (await outcome(verifier, token)).code;
      // Accepted the first time: a replay now. Refused the first time: the retry must pass.
      retries.push(first[i]!.code === 'OK' ? (again === 'REPLAY_DETECTED' ? 'OK' : `DOUBLE:${again}`) : again);
    }
    logFigure({
      store: 'redis',
      failure: '1.5 s event-loop stall during the claim',
      maxAnswerMs: slowest(first),
      doubleAccepts: retries.filter((r) => r.startsWith('DOUBLE')).length,
      burnedTokens: retries.filter((r) => r !== 'OK' && !r.startsWith('DOUBLE')).length,
      note: first.map((f) => f.code).join(','),
    });
    expect(first.every((f) => f.code === 'OK' || f.code === 'REPLAY_STORE_UNAVAILABLE')).toBe(true);
    expect(retries).toEqual(['OK', 'OK', 'OK']);
  });

  test('a retry while the first verification is still in flight is refused as a replay, never accepted twice', async () => {
    const client = failFast(proxy.port);
    const one = verifierOn(redisReplayGuard(client, quiet));
    const two = verifierOn(redisReplayGuard(failFast(proxy.port), quiet));
    await warm(one);
    await warm(two);
    proxy.mode = { kind: 'delay', ms: 300 };
    try {
      for (const pair of [
        [one, one],
        [one, two],
      ] as const) {
        const { paymentData } = mint({ version: 'EC_v1' });
        const codes = (await Promise.all([outcome(pair[0], paymentData), outcome(pair[1], paymentData)])).map((c) => c.code).sort();
        expect(codes).toEqual(['OK', 'REPLAY_DETECTED']);
      }
    } finally {
      proxy.mode = { kind: 'pass' };
    }
  });
});

describe('row 4: one clock', () => {
  let s: TestRedis;
  let client: Redis;
  beforeAll(async () => {
    s = await server();
    client = failFast(s.port);
    await until(async () => client.status === 'ready');
  });

  test('a per-call `now` and an injected clock far from the wall clock still claim for the whole retention', async () => {
    const verifier = verifierOn(redisReplayGuard(client, quiet));
    const signingTime = new Date(Date.now() - 3 * 3600_000);
    const { paymentData } = mint({ version: 'EC_v1', signingTime });
    const now = new Date(signingTime.getTime() + 1000);
    expect((await verifier.verifyAndDecrypt(paymentData, { now })).transactionId).toBeDefined();
    await expect(verifier.verifyAndDecrypt(paymentData, { now })).rejects.toMatchObject({ code: 'REPLAY_DETECTED' });
    const clocked = verifierOn(redisReplayGuard(client, quiet), { clock: () => now });
    const other = mint({ version: 'RSA_v1', signingTime }).paymentData;
    await expect(clocked.verifyAndDecrypt(other)).resolves.toBeDefined();
    await expect(clocked.verifyAndDecrypt(other)).rejects.toMatchObject({ code: 'REPLAY_DETECTED' });
  });

  test('two verifiers whose clocks differ by more than the window: the token is still accepted once', async () => {
    // A 2 s window and 0.2 s skew; the second host runs 2.5 s behind. After 2.5 s the first host's
    // window is over, while the second host still sees the token as fresh. EC tokens only: they mint
    // in milliseconds, so the window is not spent before the first verification.
    const windowed: Partial<VerifierOptions> = { maxSignatureAge: 2, maxClockSkew: 0.2 };
    const right = verifierOn(redisReplayGuard(client, quiet), windowed);
    const second = failFast(s.port);
    await until(async () => second.status === 'ready');
    const behind = verifierOn(redisReplayGuard(second, quiet), { ...windowed, clock: () => new Date(Date.now() - 2500) });
    const tokens = Array.from({ length: 5 }, () => mint({ version: 'EC_v1' }).paymentData);
    expect((await verifyAll(right, tokens)).map((c) => c.code)).toEqual(Array(5).fill('OK'));
    await new Promise((r) => setTimeout(r, 2600));
    const later = await verifyAll(behind, tokens);
    logFigure({
      store: 'redis',
      failure: 'two hosts, clocks 2.5 s apart, 2.2 s window',
      doubleAccepts: count(later, 'OK'),
      burnedTokens: 0,
    });
    expect(later.map((c) => c.code)).toEqual(Array(5).fill('REPLAY_DETECTED'));
  });

  test('replayRetention and replayTimeout are validated', () => {
    const configError = expect.objectContaining({ code: 'CONFIG_INVALID' });
    const guard = redisReplayGuard(client, quiet);
    expect(() => verifierOn(guard, { replayRetention: 100 })).toThrow(configError);
    expect(() => verifierOn(guard, { replayRetention: 'long' as never })).toThrow(configError);
    expect(() => verifierOn(guard, { replayRetention: 40 * 86_400 })).toThrow(configError);
    expect(() => verifierOn(guard, { replayTimeout: 0 })).toThrow(configError);
    expect(() => verifierOn(guard, { replayTimeout: 120 })).toThrow(configError);
    expect(() => verifierOn(guard, { replayRetention: 420, replayTimeout: 0.5 })).not.toThrow();
  });
});
