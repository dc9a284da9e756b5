// Shared by the replay-store tests: verifier processes on one store, racing helpers, and the figures
// (answer time, double accepts, burned tokens) each failure test logs for the record.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Verifier } from '../../lib/index.js';
import type { PaymentData } from '../../test-vectors/gen/token.js';
import { mint, ROOT } from './helpers.js';

export const hexId = (): string => randomBytes(32).toString('hex');

export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
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

export const mintMany = (n: number, signingTime?: Date): PaymentData[] =>
  Array.from(
    { length: n },
    (_, i) => mint({ version: i % 8 === 0 ? 'RSA_v1' : 'EC_v1', ...(signingTime === undefined ? {} : { signingTime }) }).paymentData,
  );

/** The verifier's answer as a code ('OK' on success), and how long it took. */
export async function outcome(verifier: Verifier, token: unknown): Promise<{ code: string; ms: number }> {
  const start = performance.now();
  try {
    await verifier.verifyAndDecrypt(token);
    return { code: 'OK', ms: performance.now() - start };
  } catch (err) {
    return { code: (err as { code?: string }).code ?? 'NOT_AN_APPLEPAY_ERROR', ms: performance.now() - start };
  }
}

export interface Figure {
  store: string;
  failure: string;
  /** Slowest answer while the failure lasted, ms. */
  maxAnswerMs?: number;
  doubleAccepts: number;
  burnedTokens: number;
  note?: string;
}

/** One line per failure mode, grep-able in the test output: "[replay-figure] {...}". */
export function logFigure(figure: Figure): void {
  const rounded = figure.maxAnswerMs === undefined ? figure : { ...figure, maxAnswerMs: Math.round(figure.maxAnswerMs) };
  process.stdout.write(`[replay-figure] ${JSON.stringify(rounded)}\n`);
}

export interface VerifierProcess {
  verify(token: PaymentData): Promise<string>;
  close(): Promise<void>;
}

export async function startVerifierProcess(env: Record<string, string>): Promise<VerifierProcess> {
  const child: ChildProcess = fork(join(ROOT, 'test', 'integration', 'fixtures', 'replay-worker.ts'), [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
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
      for (const settle of pending.values()) settle('EXITED');
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

/** Sends every token to both processes at the same moment; the codes come back in process order. */
export const race = (a: VerifierProcess, b: VerifierProcess, tokens: readonly PaymentData[], lanes = 32): Promise<string[][]> =>
  mapLimit(tokens, lanes, (token) => Promise.all([a.verify(token), b.verify(token)]));

export const verdict = (codes: readonly string[]): string => [...codes].sort().join(',');

/**
 * The kill-and-restart drill for a shared store: tokens raced while the server is killed, refused while
 * it is down, and after the restart every token accepted exactly once overall (no double accept) and
 * every token never accepted is accepted on retry (no burned token).
 */
export async function killRestartDrill(
  a: VerifierProcess,
  b: VerifierProcess,
  server: { kill(): Promise<void>; restart(): Promise<void> },
): Promise<{ doubleAccepts: number; burnedTokens: number; downMaxMs: number; unexpected: string[] }> {
  const tokens = mintMany(300);
  const accepted = new Array<number>(tokens.length).fill(0);
  const unexpected: string[] = [];
  const allowed = new Set(['OK', 'REPLAY_DETECTED', 'REPLAY_STORE_UNAVAILABLE']);
  let answered = 0;
  let killed: Promise<void> | null = null;
  const during = await mapLimit(tokens, 16, async (token, i) => {
    const codes = await Promise.all([a.verify(token), b.verify(token)]);
    if (++answered === 100) killed = server.kill();
    for (const c of codes) {
      if (c === 'OK') accepted[i]!++;
      if (!allowed.has(c)) unexpected.push(c);
    }
    return codes;
  });
  await killed;
  // Down: everything refused, promptly.
  const whileDown = mintMany(20);
  let downMaxMs = 0;
  await mapLimit(whileDown, 8, async (token) => {
    const start = performance.now();
    const code = await a.verify(token);
    downMaxMs = Math.max(downMaxMs, performance.now() - start);
    if (code !== 'REPLAY_STORE_UNAVAILABLE') unexpected.push(`down:${code}`);
  });
  await server.restart();
  // Each process reconnects on its own schedule: probe each with fresh tokens until one is accepted.
  for (const worker of [a, b]) {
    let code = '';
    for (let attempt = 0; attempt < 400 && code !== 'OK'; attempt++) {
      code = await worker.verify(mint({ version: 'EC_v1' }).paymentData);
      if (code !== 'OK') await new Promise((r) => setTimeout(r, 25));
    }
    if (code !== 'OK') unexpected.push(`no recovery: ${code}`);
  }
  // Give the background resolution of unanswered claims a moment, as a customer's retry would.
  await new Promise((r) => setTimeout(r, 300));
  // Retry every token (the customer's retry, sent to both instances again) and the ones refused while down.
  const retries = await race(a, b, [...tokens, ...whileDown]);
  let burnedTokens = 0;
  let doubleAccepts = 0;
  retries.forEach((codes, i) => {
    const before = i < tokens.length ? accepted[i]! : 0;
    const now = codes.filter((c) => c === 'OK').length;
    if (before + now > 1) doubleAccepts++;
    if (before + now === 0) burnedTokens++;
    for (const c of codes) if (!allowed.has(c)) unexpected.push(`after:${c}`);
  });
  void during;
  return { doubleAccepts, burnedTokens, downMaxMs, unexpected };
}
