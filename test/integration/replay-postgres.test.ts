// postgresReplayGuard against a real PostgreSQL server (test/support/postgres-server.ts): one row per claim with
// its owner, expired rows taken over and swept in bounded batches, two verifier processes racing 1,000
// tokens, a kill -9 and restart in the middle of a run, and a paused server: no double accept, no
// burned token, every answer within the deadline.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { postgresReplayGuard, type Verifier } from '../../lib/index.js';
import { mint, testVerifier } from '../support/helpers.js';
import { startPostgres, type TestPostgres } from '../support/postgres-server.js';
import {
  hexId,
  killRestartDrill,
  logFigure,
  mapLimit,
  mintMany,
  outcome,
  race,
  startVerifierProcess,
  verdict,
  type VerifierProcess,
} from '../support/replay.js';

let server: TestPostgres;
let pool: pg.Pool;

function newPool(): pg.Pool {
  const p = new pg.Pool({
    host: '127.0.0.1',
    port: server.port,
    user: 'postgres',
    database: 'postgres',
    max: 8,
    connectionTimeoutMillis: 1000,
  });
  // A server that goes away makes idle clients emit errors; the guard sees failures through its queries.
  p.on('error', () => undefined);
  return p;
}

beforeAll(async () => {
  server = await startPostgres();
  pool = newPool();
});

afterAll(async () => {
  await pool?.end().catch(() => undefined);
  await server?.stop();
});

const rowOf = async (id: string): Promise<{ owner: string; ms: number } | undefined> =>
  (
    await pool.query<{ owner: string; ms: number }>(
      `SELECT owner, (extract(epoch FROM expires_at - clock_timestamp()) * 1000)::float8 AS ms FROM applepay_verify_replay WHERE transaction_id = $1`,
      [id],
    )
  ).rows[0];

describe('postgresReplayGuard', () => {
  test("acquire writes one row with the owner and the lifetime on the server's clock; release is compare-and-delete; an expired row is taken over", async () => {
    const guard = postgresReplayGuard(pool);
    await guard.ready();
    const id = hexId();
    await expect(guard.acquire(id.toUpperCase(), 359_000, 'owner-a')).resolves.toBe(true);
    await expect(guard.acquire(id, 359_000, 'owner-b')).resolves.toBe(false);
    const row = await rowOf(id);
    expect(row?.owner).toBe('owner-a');
    expect(row?.ms).toBeGreaterThan(350_000);
    expect(row?.ms).toBeLessThanOrEqual(359_000);
    await expect(guard.release(id, 'owner-b')).resolves.toBe(false);
    await expect(guard.release(id, 'owner-a')).resolves.toBe(true);
    expect(await rowOf(id)).toBeUndefined();
    await expect(guard.acquire(id, 1, 'owner-c')).resolves.toBe(true);
    await new Promise((r) => setTimeout(r, 10));
    await expect(guard.acquire(id, 60_000, 'owner-d')).resolves.toBe(true);
    expect((await rowOf(id))?.owner).toBe('owner-d');
  });

  test('expired rows are deleted in bounded batches', async () => {
    await pool.query(
      `INSERT INTO applepay_verify_replay SELECT md5(i::text) || 'x', 'o', clock_timestamp() - interval '1 hour' FROM generate_series(1, 2500) i ON CONFLICT DO NOTHING`,
    );
    const expired = async (): Promise<number> =>
      Number(
        (await pool.query<{ n: string }>(`SELECT count(*) AS n FROM applepay_verify_replay WHERE expires_at <= clock_timestamp()`)).rows[0]!
          .n,
      );
    expect(await expired()).toBeGreaterThanOrEqual(2500);
    const guard = postgresReplayGuard(pool, { sweepInterval: 0, sweepBatch: 1000 });
    const before = await expired();
    await guard.acquire(hexId(), 60_000, 'o');
    let after = before;
    for (let i = 0; i < 100 && after === before; i++) {
      await new Promise((r) => setTimeout(r, 10));
      after = await expired();
    }
    expect(before - after).toBeGreaterThan(0);
    expect(before - after).toBeLessThanOrEqual(1000);
    for (let i = 0; i < 10; i++) await guard.acquire(hexId(), 60_000, 'o');
    for (let i = 0; i < 100 && (await expired()) > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await expired()).toBe(0);
  });

  test('refuses a pool without connect()/query() and bad options at construction', () => {
    const configError = expect.objectContaining({ code: 'CONFIG_INVALID' });
    expect(() => postgresReplayGuard({} as never)).toThrow(configError);
    expect(() => postgresReplayGuard(pool, { table: 'x; DROP TABLE y' })).toThrow(configError);
    expect(() => postgresReplayGuard(pool, { statementTimeoutMs: 0 })).toThrow(configError);
    expect(() => postgresReplayGuard(pool, { sweepBatch: 0 })).toThrow(configError);
  });

  test('in a verifier: accepted once, replays refused, release gives the token back', async () => {
    const verifier = testVerifier({ replayGuard: postgresReplayGuard(pool) });
    const { paymentData, expected } = mint({ version: 'RSA_v1' });
    await expect(verifier.verifyAndDecrypt(paymentData)).resolves.toBeDefined();
    await expect(verifier.verifyAndDecrypt(paymentData)).rejects.toMatchObject({ code: 'REPLAY_DETECTED' });
    expect((await rowOf(expected.transactionId))?.ms).toBeGreaterThan(86_300_000);
    await expect(verifier.release(expected.transactionId)).resolves.toBe(true);
    await expect(verifier.verifyAndDecrypt(paymentData)).resolves.toBeDefined();
  });

  test('a paused server (SIGSTOP): refused within the deadline, and the retries succeed after SIGCONT', async () => {
    const own = newPool();
    try {
      const verifier: Verifier = testVerifier({ replayGuard: postgresReplayGuard(own) });
      await expect(verifier.verifyAndDecrypt(mint({ version: 'EC_v1' }).paymentData)).resolves.toBeDefined();
      const tokens = mintMany(10);
      server.pause();
      let during: { code: string; ms: number }[];
      try {
        during = await mapLimit(tokens, 10, (t) => outcome(verifier, t));
      } finally {
        server.resume();
      }
      expect(during.map((d) => d.code)).toEqual(Array(10).fill('REPLAY_STORE_UNAVAILABLE'));
      // The customer retries a second later.
      await new Promise((r) => setTimeout(r, 1000));
      const retries = await mapLimit(tokens, 10, (t) => outcome(verifier, t));
      const replays = await mapLimit(tokens, 10, (t) => outcome(verifier, t));
      const slowest = Math.max(...during.map((d) => d.ms));
      logFigure({
        store: 'postgres',
        failure: 'paused (SIGSTOP)',
        maxAnswerMs: slowest,
        doubleAccepts: replays.filter((r) => r.code === 'OK').length,
        burnedTokens: retries.filter((r) => r.code !== 'OK').length,
      });
      expect(retries.map((r) => r.code)).toEqual(Array(10).fill('OK'));
      expect(replays.map((r) => r.code)).toEqual(Array(10).fill('REPLAY_DETECTED'));
      expect(slowest).toBeLessThan(2500);
    } finally {
      await own.end().catch(() => undefined);
    }
  });
});

describe('two verifier processes sharing one PostgreSQL', () => {
  let a: VerifierProcess;
  let b: VerifierProcess;

  beforeAll(async () => {
    const env = { REPLAY_STORE: 'postgres', PG_PORT: String(server.port) };
    [a, b] = await Promise.all([startVerifierProcess(env), startVerifierProcess(env)]);
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  test('the same token sent to both at once is accepted exactly once, over 1,000 tokens', async () => {
    const tokens = mintMany(1000);
    const outcomes = await race(a, b, tokens);
    const wrong = outcomes.map((codes, i) => ({ i, codes })).filter(({ codes }) => verdict(codes) !== 'OK,REPLAY_DETECTED');
    logFigure({
      store: 'postgres',
      failure: 'race of 2 processes, 1,000 tokens',
      doubleAccepts: outcomes.filter((c) => verdict(c) === 'OK,OK').length,
      burnedTokens: 0,
    });
    expect(wrong).toEqual([]);
  });

  test('PostgreSQL killed (-9) mid-run and restarted: refused while down, no double accept, no burned token', async () => {
    const result = await killRestartDrill(a, b, server);
    logFigure({
      store: 'postgres',
      failure: 'kill -9 and restart mid-run',
      maxAnswerMs: result.downMaxMs,
      doubleAccepts: result.doubleAccepts,
      burnedTokens: result.burnedTokens,
    });
    expect(result.unexpected).toEqual([]);
    expect(result.doubleAccepts).toBe(0);
    expect(result.burnedTokens).toBe(0);
    expect(result.downMaxMs).toBeLessThan(2500);
  });
});
