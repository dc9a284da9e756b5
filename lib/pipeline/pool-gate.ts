// How many of one verifier's token operations run on libuv's thread pool at once. The pool has four
// threads by default whatever the machine, and the operations are pure CPU: on a 2-core machine four
// of them beside the JavaScript thread only make the event loop wait for a core (p99 loop delay in
// milliseconds) without adding throughput. The rest wait here, in arrival order, for a free slot.

export class PoolGate {
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  #head = 0;

  constructor(readonly limit: number) {}

  /** Runs `job` once fewer than `limit` jobs of this gate are running. */
  async run<T>(job: () => Promise<T>): Promise<T> {
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
