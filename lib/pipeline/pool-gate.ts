// How many of one verifier's token operations may occupy libuv's thread pool at once (maxPoolJobs).
// Measured on the 2-vCPU development machine (async, 16 in flight): a bound of 2 gave 0.65-0.8 of the
// throughput of the pool's own 4 threads with the same event-loop delay, so there is no bound by
// default; the option serves applications that want pool threads kept free for their own file
// system, DNS and crypto work during a burst of verifications. The rest wait here, in arrival order.

export class PoolGate {
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  #head = 0;

  constructor(readonly limit: number) {}

  /** Runs `job` once fewer than `limit` jobs of this gate are running. */
  run<T>(job: () => Promise<T>): Promise<T> {
    // Unbounded (the default): the job itself, with no extra promise in between.
    if (this.limit === Number.POSITIVE_INFINITY) return job();
    return this.#bounded(job);
  }

  async #bounded<T>(job: () => Promise<T>): Promise<T> {
    if (this.#running < this.limit) this.#running++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await job();
    } finally {
      this.#next();
    }
  }

  // The slot passes straight to the next waiter, so `running` never drops below the limit while
  // anyone waits.
  #next(): void {
    if (this.#head < this.#waiting.length) {
      const resolve = this.#waiting[this.#head]!;
      this.#waiting[this.#head++] = undefined as unknown as () => void;
      if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
        this.#waiting.splice(0, this.#head);
        this.#head = 0;
      }
      resolve();
    } else {
      this.#running--;
    }
  }

  get waiting(): number {
    return this.#waiting.length - this.#head;
  }
}
