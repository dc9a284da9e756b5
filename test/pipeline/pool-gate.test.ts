// maxPoolJobs: a verifier never has more token operations on the thread pool than its limit, the
// others wait in arrival order, and a failing operation frees its slot.
import { describe, expect, test } from 'vitest';
import { PoolGate } from '../../lib/pipeline/pool-gate.js';
import { mint, testVerifier } from '../support/helpers.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('PoolGate', () => {
  test('runs at most `limit` jobs at once, in arrival order, and passes the slot on after a failure', async () => {
    const gate = new PoolGate(2);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const release: (() => void)[] = [];
    const jobs = Array.from({ length: 7 }, (_, i) =>
      gate.run(async () => {
        started.push(i);
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => release.push(resolve));
        running--;
        if (i === 1) throw new Error('job 1 fails');
        return i;
      }),
    );
    const settled = Promise.allSettled(jobs);
    await tick();
    expect(started).toEqual([0, 1]);
    expect(gate.waiting).toBe(5);
    while (release.length > 0 || gate.waiting > 0) {
      release.shift()?.();
      await tick();
    }
    const outcomes = await settled;
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : 'failed'))).toEqual([0, 'failed', 2, 3, 4, 5, 6]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(peak).toBe(2);
    expect(gate.waiting).toBe(0);
    // All slots are free again: `limit` new jobs start at once.
    const again = [gate.run(async () => 'a'), gate.run(async () => 'b')];
    await expect(Promise.all(again)).resolves.toEqual(['a', 'b']);
  });

  test('a long queue is compacted and keeps its order', async () => {
    const gate = new PoolGate(1);
    const order: number[] = [];
    await Promise.all(Array.from({ length: 5000 }, (_, i) => gate.run(async () => void order.push(i))));
    expect(order).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(gate.waiting).toBe(0);
  });
});

describe('maxPoolJobs', () => {
  test('verifies many tokens concurrently with a limit of one, and refuses impossible limits', async () => {
    const verifier = testVerifier({ maxPoolJobs: 1 });
    const tokens = Array.from({ length: 12 }, () => mint({ version: 'EC_v1' }).paymentData);
    const results = await Promise.all(tokens.map((t) => verifier.verifyAndDecrypt(t)));
    expect(results.map((r) => r.transactionId)).toEqual(tokens.map((t) => t.header.transactionId.toLowerCase()));
    for (const bad of [0, -1, 1.5, 1025, '2', Number.NaN]) {
      expect(() => testVerifier({ maxPoolJobs: bad as number }), String(bad)).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID', details: { field: 'maxPoolJobs' } }),
      );
    }
  });
});
