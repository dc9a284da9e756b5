// Apple's procedure ends with: do not credit the same transactionId twice. A verifier given a
// ReplayGuard claims every transactionId after the token has fully verified and decrypted.

export interface ReplayGuard {
  /**
   * Records `transactionId` until `expiresAt` and resolves true the first time, false when it is
   * already recorded. Rejecting (store down) makes the verification fail closed with
   * REPLAY_STORE_UNAVAILABLE.
   */
  claim(transactionId: string, expiresAt: Date): Promise<boolean>;
}

export interface MemoryReplayGuardOptions {
  /** Most transactionIds held at once; past it, claims fail (closed) until entries expire. Default 1,000,000. */
  maxEntries?: number;
  /** The clock expiries are compared with. */
  clock?: () => Date;
}

/**
 * A replay guard for one process. Entries live until their expiry (the freshness window plus the
 * clock skew), so memory is bounded by traffic times window, and by maxEntries in any case.
 */
export function memoryReplayGuard(options: MemoryReplayGuardOptions = {}): ReplayGuard {
  const maxEntries = options.maxEntries ?? 1_000_000;
  const clock = options.clock ?? (() => new Date());
  // Insertion order is close to expiry order (every entry gets the same window), so expired entries
  // are found at the front.
  const expiries = new Map<string, number>();

  function sweep(now: number): void {
    for (const [id, expiresAt] of expiries) {
      if (expiresAt > now) break;
      expiries.delete(id);
    }
  }

  return {
    claim(transactionId: string, expiresAt: Date): Promise<boolean> {
      const now = clock().getTime();
      sweep(now);
      const known = expiries.get(transactionId);
      if (known !== undefined && known > now) return Promise.resolve(false);
      if (expiries.size >= maxEntries) return Promise.reject(new Error('memory replay guard is full'));
      expiries.delete(transactionId);
      expiries.set(transactionId, expiresAt.getTime());
      return Promise.resolve(true);
    },
  };
}
