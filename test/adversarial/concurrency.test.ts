// Concurrency and isolation, in one place: 200 interleaved verifications on one thread (each outcome
// belongs to its own token, and lastError() reports that request's failure and no other, async and
// sync), then 8 worker threads verifying 1,000 tokens each while the main thread runs 1,000
// verifications at once. Every verdict must equal the one the same token gets when verified alone,
// and lastError() in each verification's context must show that verification's own failure (or
// null), never a neighbour's.
import { Worker } from 'node:worker_threads';
import { describe, expect, test } from 'vitest';
import { lastError, type ErrorCode } from '../../lib/index.js';
import { mint, pki, testVerifier } from '../support/helpers.js';
import { verdictSync, type Verdict } from '../support/hardening.js';

const WORKERS = 8;
const PER_WORKER = 1_000;
const DISTINCT = 200;

const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
const now = new Date(signingTime.getTime() + 1000);

// A mix of valid tokens and the failures that happen at every stage of the pipeline, so that
// concurrent verifications sit in different steps (parse, chain, signature, decrypt, payment).
function mintCorpus(): string[] {
  const p = pki();
  const out: string[] = [];
  for (let i = 0; i < DISTINCT; i++) {
    const version = i % 4 === 3 ? 'RSA_v1' : 'EC_v1';
    const kind = i % 10;
    let token: unknown;
    if (kind <= 3) token = mint({ version, signingTime }).paymentData;
    else if (kind === 4) token = mint({ version, signingTime, cms: { messageDigestOverride: Buffer.alloc(32, i) } }).paymentData;
    else if (kind === 5) token = mint({ version, signingTime: new Date(signingTime.getTime() - 3_600_000) }).paymentData;
    else if (kind === 6) {
      const m = mint({ version: 'EC_v1', signingTime, merchant: 'ecRotated', publicKeyHashOverride: p.merchants.ec.publicKeyHash });
      token = m.paymentData;
    } else if (kind === 7) token = mint({ version, signingTime, payment: { paymentDataType: 'EMV' } }).paymentData;
    else if (kind === 8) token = mint({ version, signingTime: null }).paymentData;
    else token = `{"version":"${version}","data":`;
    out.push(typeof token === 'string' ? token : JSON.stringify(token));
  }
  return out;
}

const tokens = mintCorpus();
const verifier = testVerifier({ trackLastError: true });
const sequential: Verdict[] = tokens.map((t) => verdictSync(verifier, t, now));

function codeOf(v: Verdict): ErrorCode | null {
  return 'code' in v ? v.code : null;
}

interface WorkerResult {
  index: number;
  verdict: Verdict;
  last: string | null;
  own: string | null;
}

function runWorker(seed: number): Promise<WorkerResult[]> {
  const p = pki();
  // Each worker walks the whole corpus in its own order, five times over (a stride coprime with 200).
  const stride = [1, 3, 7, 9, 11, 13, 17, 19][seed % 8]!;
  const order = Array.from({ length: PER_WORKER }, (_, i) => (i * stride + seed * 37) % DISTINCT);
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./fixtures/hardening-worker.mjs', import.meta.url), {
      workerData: {
        rootPem: p.root.certPem,
        merchants: [p.merchants.ec, p.merchants.rsa, p.merchants.zero].map((m) => ({ certPem: m.certPem, keyPath: m.keyPath })),
        tokens,
        order,
        now: now.toISOString(),
        inFlight: 64,
      },
    });
    worker.once('message', (results: WorkerResult[]) => {
      resolve(results);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0 && code !== 1) reject(new Error(`worker exited with ${code}`));
    });
  });
}

function mismatches(results: WorkerResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    const expected = sequential[r.index]!;
    if (JSON.stringify(r.verdict) !== JSON.stringify(expected))
      out.push(`token ${r.index}: ${JSON.stringify(r.verdict)} != ${JSON.stringify(expected)}`);
    if (r.last !== codeOf(expected) || r.own !== codeOf(expected))
      out.push(`token ${r.index}: lastError ${r.last}/${r.own}, own verdict ${codeOf(expected)}`);
  }
  return out;
}

describe('concurrency and isolation', () => {
  test('the corpus holds successes and failures from every stage', () => {
    const kinds = new Set(sequential.map((v) => codeOf(v) ?? 'OK'));
    expect([...kinds].sort()).toEqual(
      [
        'DECRYPTION_FAILED',
        'OK',
        'PAYLOAD_INVALID',
        'SIGNATURE_INVALID',
        'SIGNING_TIME_MISSING',
        'SIGNING_TIME_TOO_OLD',
        'TOKEN_MALFORMED',
      ].sort(),
    );
  });

  test(`${WORKERS} workers x ${PER_WORKER} tokens, with 1,000 concurrent verifications on the main thread`, async () => {
    const workers = Promise.all(Array.from({ length: WORKERS }, (_, i) => runWorker(i)));

    const main = Promise.all(
      Array.from({ length: 1_000 }, (_, i) => {
        const index = (i * 7) % DISTINCT;
        // Each started as its own event, like a request.
        return new Promise<WorkerResult>((resolve) =>
          setImmediate(() => {
            void (async () => {
              let verdict: Verdict;
              try {
                verdict = { ok: true, transactionId: (await verifier.verifyAndDecrypt(tokens[index], { now })).transactionId };
              } catch (err) {
                verdict = { ok: false, code: (err as { code: ErrorCode }).code };
              }
              await new Promise((r) => setTimeout(r, 1));
              resolve({ index, verdict, last: lastError()?.code ?? null, own: verifier.lastError()?.code ?? null });
            })();
          }),
        );
      }),
    );

    const [perWorker, mainResults] = await Promise.all([workers, main]);
    expect(perWorker).toHaveLength(WORKERS);
    for (const results of perWorker) {
      expect(results).toHaveLength(PER_WORKER);
      expect(mismatches(results)).toEqual([]);
    }
    expect(mismatches(mainResults)).toEqual([]);
    // The interleaving really mixed outcomes: both kinds ran side by side in every worker.
    for (const results of perWorker) {
      const failures = results.filter((r) => !('ok' in r.verdict && r.verdict.ok)).length;
      expect(failures).toBeGreaterThan(300);
      expect(failures).toBeLessThan(700);
    }
  });
});

// One thread, 200 requests (merged from test/concurrency.test.ts, assertions unchanged).
interface Case {
  token: unknown;
  expected: { ok: true; transactionId: string } | { ok: false; code: ErrorCode };
}

function cases(n: number): Case[] {
  const out: Case[] = [];
  for (let i = 0; i < n; i++) {
    const version = i % 3 === 2 ? 'RSA_v1' : 'EC_v1';
    const kind = i % 5;
    if (kind === 0 || kind === 3) {
      const m = mint({ version });
      out.push({ token: m.paymentData, expected: { ok: true, transactionId: m.expected.transactionId.toLowerCase() } });
    } else if (kind === 1) {
      out.push({ token: mint({ version, signingTime: null }).paymentData, expected: { ok: false, code: 'SIGNING_TIME_MISSING' } });
    } else if (kind === 2) {
      out.push({
        token: mint({ version, merchant: version === 'EC_v1' ? 'ecRotated' : 'rsa', cms: { messageDigestOverride: Buffer.alloc(32, i) } })
          .paymentData,
        expected: { ok: false, code: 'SIGNATURE_INVALID' },
      });
    } else {
      out.push({ token: `{"version":"${version}"`, expected: { ok: false, code: 'TOKEN_MALFORMED' } });
    }
  }
  return out;
}

describe('concurrent verifications on one thread', () => {
  const verifier = testVerifier({ trackLastError: true });
  const all = cases(200);

  async function handle(
    c: Case,
  ): Promise<{ outcome: Case['expected']; last: ReturnType<typeof lastError>; own: ReturnType<typeof lastError> }> {
    let outcome: Case['expected'];
    try {
      const result = await verifier.verifyAndDecrypt(c.token);
      outcome = { ok: true, transactionId: result.transactionId };
    } catch (err) {
      outcome = { ok: false, code: (err as { code: ErrorCode }).code };
    }
    // Let every other request run and fail before reading this context's last error.
    await new Promise((resolve) => setTimeout(resolve, 5));
    return { outcome, last: lastError(), own: verifier.lastError() };
  }

  function check(results: Awaited<ReturnType<typeof handle>>[]): void {
    results.forEach((r, i) => {
      const expected = all[i]!.expected;
      expect(r.outcome).toEqual(expected);
      if (expected.ok) {
        expect(r.last).toBeNull();
      } else {
        expect(r.last?.code).toBe(expected.code);
        expect(r.own?.code).toBe(expected.code);
      }
    });
    const failures = results.filter((r) => !r.outcome.ok).length;
    expect(failures).toBeGreaterThan(50);
    expect(results.length - failures).toBeGreaterThan(50);
  }

  test('started from one synchronous loop', async () => {
    check(await Promise.all(all.map((c) => handle(c))));
  });

  test('started as separate events, like requests', async () => {
    const results = await Promise.all(
      all.map((c) => new Promise<Awaited<ReturnType<typeof handle>>>((resolve) => setImmediate(() => void handle(c).then(resolve)))),
    );
    check(results);
  });

  test('the synchronous API reports its own failure too', () => {
    for (const c of all.slice(0, 20)) {
      let code: ErrorCode | null = null;
      try {
        verifier.verifyAndDecryptSync(c.token);
      } catch (err) {
        code = (err as { code: ErrorCode }).code;
      }
      expect(code).toEqual(c.expected.ok ? null : c.expected.code);
      expect(lastError()?.code ?? null).toEqual(code);
    }
  });
});
