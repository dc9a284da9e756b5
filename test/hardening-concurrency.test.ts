// Concurrency and isolation: 8 worker threads verifying 1,000 tokens each while the main thread
// runs 1,000 verifications at once. Every verdict must equal the one the same token gets when
// verified alone, and lastError() in each verification's context must show that verification's
// own failure (or null), never a neighbour's.
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, test } from 'vitest';
import { lastError, type ErrorCode } from '../lib/index.js';
import { mint, pki, testVerifier } from './helpers.js';
import { ensureDist, verdictSync, type Verdict } from './fixtures/hardening-util.js';

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
  beforeAll(ensureDist, 120_000);

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
