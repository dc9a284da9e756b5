// 200 interleaved verifications, valid and invalid: each outcome belongs to its own token, and
// lastError() in each request's context reports that request's failure and no other.
import { describe, expect, test } from 'vitest';
import { lastError, type ErrorCode } from '../lib/index.js';
import { mint, testVerifier } from './helpers.js';

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
      out.push({ token: mint({ version, merchant: version === 'EC_v1' ? 'ecRotated' : 'rsa', cms: { messageDigestOverride: Buffer.alloc(32, i) } }).paymentData, expected: { ok: false, code: 'SIGNATURE_INVALID' } });
    } else {
      out.push({ token: `{"version":"${version}"`, expected: { ok: false, code: 'TOKEN_MALFORMED' } });
    }
  }
  return out;
}

describe('concurrent verifications', () => {
  const verifier = testVerifier({ trackLastError: true });
  const all = cases(200);

  async function handle(c: Case): Promise<{ outcome: Case['expected']; last: ReturnType<typeof lastError>; own: ReturnType<typeof lastError> }> {
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
