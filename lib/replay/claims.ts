// The verifier's side of a replay claim: a deadline on every claim, a random owner per claim, and the
// resolution of claims whose outcome is unknown, so that a store that fails refuses now (fail closed)
// and the customer's retry still succeeds once it can answer again (no burned token).
import { randomBytes } from 'node:crypto';
import { ApplePayError } from '../errors.js';
import type { ReplayGuard } from './guard.js';

export interface ReplayClaimsOptions {
  /** Longest wait for the store, in ms, before the claim fails closed. */
  readonly timeoutMs: number;
  /** How long the owners of accepted claims are remembered for release(transactionId), in ms. */
  readonly releaseWindowMs: number;
}

// Accepted claims remembered for release(); beyond this, the oldest are forgotten first.
const MAX_REMEMBERED = 100_000;
// Claims with an unknown outcome whose release is still to be confirmed.
const MAX_UNRESOLVED = 100_000;
// A background release keeps trying for this long (backing off to one attempt a second); after that a
// claim of the same id in this process still releases it first.
const RESOLVE_FOR_MS = 5 * 60_000;

const unavailable = (message: string): ApplePayError => new ApplePayError('REPLAY_STORE_UNAVAILABLE', message);

class Deadline extends Error {}

function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Deadline()), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

interface Unresolved {
  readonly owner: string;
  readonly since: number;
  running: boolean;
}

export class ReplayClaims {
  readonly #guard: ReplayGuard;
  readonly #options: ReplayClaimsOptions;
  /** Ids whose verification is between its claim and its answer. */
  readonly #inFlight = new Set<string>();
  /** Ids accepted here: owner and when it stops being releasable. */
  readonly #accepted = new Map<string, { owner: string; until: number }>();
  readonly #unresolved = new Map<string, Unresolved>();

  constructor(guard: ReplayGuard, options: ReplayClaimsOptions) {
    this.#guard = guard;
    this.#options = options;
  }

  /** Claims `transactionId` for `ttlMs`; throws REPLAY_DETECTED or REPLAY_STORE_UNAVAILABLE. */
  async claim(transactionId: string, ttlMs: number): Promise<void> {
    const id = transactionId.toLowerCase();
    if (this.#inFlight.has(id)) {
      // The first copy is still being claimed: whatever its outcome, this one must not be a second
      // acceptance.
      throw new ApplePayError('REPLAY_DETECTED', 'this transactionId is already being accepted', { field: 'header.transactionId' });
    }
    this.#inFlight.add(id);
    const started = Date.now();
    try {
      const earlier = this.#unresolved.get(id);
      if (earlier !== undefined) {
        // A retry of a token whose first claim was never answered: undo that claim first, or the retry
        // would meet it and be refused as a replay.
        let released: boolean;
        try {
          await within(this.#releaseOwned(id, earlier.owner), this.#options.timeoutMs);
          released = true;
        } catch {
          released = false;
        }
        if (!released) throw unavailable('the replay store could not confirm an earlier claim of this token; the token was not accepted');
      }
      const owner = randomBytes(16).toString('hex');
      const remaining = Math.max(1, this.#options.timeoutMs - (Date.now() - started));
      let first: unknown;
      try {
        first = await within(this.#acquire(id, ttlMs, owner), remaining);
      } catch (err) {
        // Timed out, reset or refused: the claim may or may not have been applied. Resolve it in the
        // background so that it does not burn the token.
        if (this.#guard.release !== undefined) this.#resolveLater(id, owner);
        throw unavailable(
          err instanceof Deadline
            ? `the replay store did not answer within ${this.#options.timeoutMs} ms; the token was not accepted`
            : 'the replay store could not be reached; the token was not accepted',
        );
      }
      if (first === true) {
        this.#remember(id, owner);
        this.#kickResolutions();
        return;
      }
      if (first === false) {
        throw new ApplePayError('REPLAY_DETECTED', 'this transactionId has already been accepted', { field: 'header.transactionId' });
      }
      if (this.#guard.release !== undefined) this.#resolveLater(id, owner);
      throw unavailable('the replay store gave an answer that is not a boolean; the token was not accepted');
    } finally {
      this.#inFlight.delete(id);
    }
  }

  /**
   * Undoes this verifier's accepted claim of `transactionId` (compare-and-delete on its owner), for a
   * caller whose charge failed after verification. Resolves true when released, false when this
   * verifier holds no releasable claim of it; rejects with REPLAY_STORE_UNAVAILABLE when the store
   * cannot answer.
   */
  async release(transactionId: string): Promise<boolean> {
    const id = transactionId.toLowerCase();
    const entry = this.#accepted.get(id);
    if (entry === undefined || entry.until <= Date.now()) return false;
    if (this.#guard.release === undefined) {
      throw new ApplePayError('CONFIG_INVALID', 'this replayGuard has no release method', { field: 'replayGuard' });
    }
    let released: boolean;
    try {
      released = (await within(this.#guard.release(id, entry.owner), this.#options.timeoutMs)) === true;
    } catch {
      throw unavailable('the replay store could not be reached; the claim was not released');
    }
    this.#accepted.delete(id);
    return released;
  }

  #acquire(id: string, ttlMs: number, owner: string): Promise<unknown> {
    const guard = this.#guard;
    // A guard that throws synchronously is a store failure like any other.
    return new Promise((resolve) => {
      if (typeof guard.acquire === 'function') resolve(guard.acquire(id, ttlMs, owner));
      else resolve(guard.claim!(id, new Date(Date.now() + ttlMs)));
    });
  }

  async #releaseOwned(id: string, owner: string): Promise<void> {
    const answer = await this.#guard.release!(id, owner);
    if (typeof answer !== 'boolean') throw new Error('release gave an answer that is not a boolean');
    // Only a definite answer settles it: deleted, or not there / not ours.
    if (this.#unresolved.get(id)?.owner === owner) this.#unresolved.delete(id);
  }

  #remember(id: string, owner: string): void {
    const now = Date.now();
    this.#accepted.delete(id);
    this.#accepted.set(id, { owner, until: now + this.#options.releaseWindowMs });
    // Insertion order is expiry order (one window for all): drop the expired and the surplus at the front.
    for (const [key, entry] of this.#accepted) {
      if (entry.until > now && this.#accepted.size <= MAX_REMEMBERED) break;
      this.#accepted.delete(key);
    }
  }

  #resolveLater(id: string, owner: string): void {
    if (this.#unresolved.size >= MAX_UNRESOLVED) {
      // Bounded: the oldest unknown claim is given up (it may stay recorded until its ttl).
      const oldest = this.#unresolved.keys().next().value;
      if (oldest !== undefined) this.#unresolved.delete(oldest);
    }
    this.#unresolved.delete(id);
    const entry: Unresolved = { owner, since: Date.now(), running: false };
    this.#unresolved.set(id, entry);
    this.#run(id, entry, 25);
  }

  /** Something just succeeded: the store is back, so retry the pending releases now. */
  #kickResolutions(): void {
    for (const [id, entry] of this.#unresolved) {
      if (!entry.running) this.#run(id, entry, 0);
    }
  }

  #run(id: string, entry: Unresolved, delay: number): void {
    entry.running = true;
    const attempt = (wait: number): void => {
      const timer = setTimeout(() => {
        if (this.#unresolved.get(id) !== entry) return;
        within(this.#releaseOwned(id, entry.owner), this.#options.timeoutMs).then(
          () => undefined,
          () => {
            if (this.#unresolved.get(id) !== entry) return;
            if (Date.now() - entry.since > RESOLVE_FOR_MS) {
              // Stop polling; a later claim of this id here, or a success, tries again.
              entry.running = false;
              return;
            }
            attempt(Math.min(1000, Math.max(50, wait * 2)));
          },
        );
      }, wait);
      // Background work must not keep a process alive that has nothing else to do.
      timer.unref();
    };
    attempt(delay);
  }
}
