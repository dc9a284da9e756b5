// Apple's procedure ends with: do not credit the same transactionId twice. A verifier given a
// ReplayGuard claims every transactionId after the token has fully verified and decrypted.
//
// The verifier owns the clock: it decides freshness and how long a claim lives from one instant, and a
// guard only ever receives a duration, which the store counts on its own clock. A guard therefore
// never compares dates, and a host whose clock is wrong cannot shorten another host's claim.
import { isMainThread } from 'node:worker_threads';
import cluster from 'node:cluster';

export interface ReplayGuard {
  /**
   * Records `transactionId` for `ttlMs` milliseconds under the random `owner` value and resolves true
   * the first time, false while it is recorded. Rejecting (store down, answer unknown) makes the
   * verification fail closed with REPLAY_STORE_UNAVAILABLE, after which the verifier calls
   * `release(transactionId, owner)` so that an applied-but-unanswered claim does not burn the token.
   */
  acquire?(transactionId: string, ttlMs: number, owner: string): Promise<boolean>;
  /**
   * Deletes the claim only if it is still `owner`'s (compare-and-delete); resolves true when it was
   * deleted, false when it was not there or not ours. Rejects when the store cannot answer.
   */
  release?(transactionId: string, owner: string): Promise<boolean>;
  /**
   * The interface of 0.1 (deprecated): the verifier calls it, when `acquire` is absent, with
   * `new Date(Date.now() + ttlMs)`. Such a guard has no owner and no release: a claim whose answer is
   * lost stays recorded, and the customer's retry is refused as a replay.
   */
  claim?(transactionId: string, expiresAt: Date): Promise<boolean>;
}

/** A guard on a shared store (Redis, PostgreSQL): both methods, and a check to run at boot. */
export interface StoreReplayGuard extends ReplayGuard {
  acquire(transactionId: string, ttlMs: number, owner: string): Promise<boolean>;
  release(transactionId: string, owner: string): Promise<boolean>;
  /** Checks the store now (reachable, safely configured), so a misconfigured service fails at boot. */
  ready(): Promise<void>;
}

/** memoryReplayGuard's guard: the three methods, all present. */
export interface MemoryReplayGuard extends ReplayGuard {
  acquire(transactionId: string, ttlMs: number, owner: string): Promise<boolean>;
  release(transactionId: string, owner: string): Promise<boolean>;
  /** Entries held, including expired ones not yet swept (for metrics). */
  readonly size: number;
  /** @deprecated the 0.1 form: expiresAt is converted to a lifetime on the guard's clock. */
  claim(transactionId: string, expiresAt: Date): Promise<boolean>;
}

export type ReplayWarning = (message: string, code: string) => void;

/** process.emitWarning, once per code: a warning repeated per request would drown the log. */
export function warnOnce(hook: ReplayWarning | undefined, seen: Set<string>, code: string, message: string): void {
  if (seen.has(code)) return;
  seen.add(code);
  if (hook !== undefined) hook(message, code);
  else process.emitWarning(message, { code, type: 'ApplePayVerifyWarning' });
}

export interface MemoryReplayGuardOptions {
  /** Most transactionIds held at once; past it, claims fail (closed) until entries expire. Default 1,000,000. */
  maxEntries?: number;
  /** The time source expiries are counted on. Default: a monotonic clock (wall-clock steps do not move it). */
  clock?: () => Date;
  /**
   * Called instead of process.emitWarning, e.g. when the guard is created in a worker thread or a
   * cluster worker, where it protects that worker only.
   */
  onWarning?: ReplayWarning;
}

// Expired entries removed per claim: a claim never pays for more than this many, so a million entries
// that fall due together are reclaimed over many claims instead of stalling one.
const SWEEP_SLICE = 256;

/**
 * A min-heap of (expiry, id) pairs next to a Map of live entries. Frees space by expiry whatever the
 * order of insertion (ttls may differ per claim); a heap entry whose id was released or re-claimed is
 * recognised as stale when it surfaces and skipped.
 */
class ExpiryHeap {
  readonly #at: number[] = [];
  readonly #ids: string[] = [];

  get size(): number {
    return this.#at.length;
  }

  peek(): number {
    return this.#at[0] ?? Infinity;
  }

  push(at: number, id: string): void {
    const a = this.#at;
    const ids = this.#ids;
    let i = a.length;
    a.push(at);
    ids.push(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent]! <= at) break;
      a[i] = a[parent]!;
      ids[i] = ids[parent]!;
      i = parent;
    }
    a[i] = at;
    ids[i] = id;
  }

  pop(): [number, string] {
    const a = this.#at;
    const ids = this.#ids;
    const top: [number, string] = [a[0]!, ids[0]!];
    const lastAt = a.pop()!;
    const lastId = ids.pop()!;
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && a[r]! < a[l]! ? r : l;
        if (a[c]! >= lastAt) break;
        a[i] = a[c]!;
        ids[i] = ids[c]!;
        i = c;
      }
      a[i] = lastAt;
      ids[i] = lastId;
    }
    return top;
  }

  clear(): void {
    this.#at.length = 0;
    this.#ids.length = 0;
  }
}

const monotonic = (): number => performance.timeOrigin + performance.now();

/**
 * A replay guard for ONE process, or one worker: every worker thread and every node:cluster fork that
 * creates one has its own, and a token replayed to another worker passes. Services with more than one
 * worker or instance need a shared store (redisReplayGuard, postgresReplayGuard; docs/replay.md).
 */
export function memoryReplayGuard(options: MemoryReplayGuardOptions = {}): MemoryReplayGuard {
  const maxEntries = options.maxEntries ?? 1_000_000;
  const clock = options.clock;
  const now = clock === undefined ? monotonic : (): number => clock().getTime();
  const warned = new Set<string>();
  if (!isMainThread || cluster.isWorker) {
    warnOnce(
      options.onWarning,
      warned,
      'APPLEPAY_VERIFY_MEMORY_GUARD_PER_WORKER',
      'memoryReplayGuard() was created in a worker thread or cluster worker: it protects this worker only, and a token replayed to another worker is accepted again; share redisReplayGuard or postgresReplayGuard between workers (docs/replay.md)',
    );
  }
  // id -> [expiry, owner]
  const live = new Map<string, { at: number; owner: string }>();
  const heap = new ExpiryHeap();

  function sweep(t: number, budget: number): void {
    for (let n = 0; n < budget && heap.peek() <= t; n++) {
      const [at, id] = heap.pop();
      const entry = live.get(id);
      if (entry !== undefined && entry.at === at) live.delete(id);
    }
    // Releases and re-claims leave stale heap entries behind; rebuild before they outgrow the entries.
    if (heap.size > 2 * maxEntries + SWEEP_SLICE) {
      heap.clear();
      for (const [id, entry] of live) heap.push(entry.at, id);
    }
  }

  function acquire(transactionId: string, ttlMs: number, owner: string): Promise<boolean> {
    if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
      return Promise.reject(new Error('replay claim with an invalid lifetime'));
    }
    const t = now();
    sweep(t, SWEEP_SLICE);
    const id = transactionId.toLowerCase();
    const known = live.get(id);
    if (known !== undefined && known.at > t) return Promise.resolve(false);
    if (known === undefined && live.size >= maxEntries) {
      // Full of entries that have not all been swept: free the ones already due, in expiry order, until
      // one slot is free or the earliest expiry is still ahead.
      while (live.size >= maxEntries && heap.peek() <= t) sweep(t, 1);
      if (live.size >= maxEntries) return Promise.reject(new Error('memory replay guard is full'));
    }
    const at = t + ttlMs;
    live.set(id, { at, owner });
    heap.push(at, id);
    return Promise.resolve(true);
  }

  return {
    acquire,
    get size(): number {
      return live.size;
    },
    release(transactionId: string, owner: string): Promise<boolean> {
      const id = transactionId.toLowerCase();
      const entry = live.get(id);
      if (entry === undefined || entry.owner !== owner) return Promise.resolve(false);
      live.delete(id);
      return Promise.resolve(true);
    },
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- the 0.1 interface, kept for callers of one minor version
    claim(transactionId: string, expiresAt: Date): Promise<boolean> {
      const t = clock === undefined ? Date.now() : now();
      return acquire(transactionId, Math.max(1, expiresAt.getTime() - t), '');
    },
  };
}
