// Every verification publishes its outcome on node:diagnostics_channel, so operators can count codes,
// time steps and alert without wrapping the API. Events carry codes and timings, never token bytes,
// keys or payment data. Timings are taken only while someone subscribes; the signature and decryption
// phases come from the same native call that runs without a subscriber.
import diagnostics_channel from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import type { Environment } from './environment.js';
import type { ErrorCode } from '../errors.js';
import type { TokenVersion } from '../steps/token.js';

export const VERIFY_CHANNEL_NAME = 'applepay-verify:verify';
export const verifyChannel = diagnostics_channel.channel(VERIFY_CHANNEL_NAME);

export type Step = 'parse' | 'chain' | 'signature' | 'decrypt' | 'payment' | 'replay';

export interface VerifyEvent {
  ok: boolean;
  /** 'OK' on success. */
  code: ErrorCode | 'OK';
  /** Present once the token's version was read. */
  version?: TokenVersion;
  /** Base64, the token's header.publicKeyHash (which merchant key it names); present once the chain was checked. */
  publicKeyHash?: string;
  /** 'production', 'sandbox' or 'test'; present once the chain was checked. */
  environment?: Environment;
  /** Whole verification, milliseconds. */
  durationMs: number;
  /** Milliseconds per step that ran: parse, chain, signature, decrypt, payment, replay. */
  steps: Partial<Record<Step, number>>;
}

export class StepTimer {
  readonly #start = performance.now();
  #last = this.#start;
  readonly steps: Partial<Record<Step, number>> = {};
  version: TokenVersion | undefined;
  publicKeyHash: string | undefined;
  environment: Environment | undefined;

  /** Filled by the native token operation: its signature and decryption phases, microseconds. */
  readonly phases = new Float64Array(2);

  step(name: Step): void {
    const t = performance.now();
    this.steps[name] = t - this.#last;
    this.#last = t;
  }

  // After the native token operation: 'decrypt' is the addon's decryption phase, 'signature' the rest
  // since the last step (the signer checks, the signature phase and, for the async API, the pool hop).
  native(refused: boolean): void {
    const t = performance.now();
    const decrypt = refused ? 0 : this.phases[1]! / 1000;
    this.steps.signature = Math.max(0, t - this.#last - decrypt);
    if (!refused) this.steps.decrypt = decrypt;
    this.#last = t;
  }

  publish(code: ErrorCode | 'OK'): void {
    const event: VerifyEvent = { ok: code === 'OK', code, durationMs: performance.now() - this.#start, steps: this.steps };
    if (this.version !== undefined) event.version = this.version;
    if (this.publicKeyHash !== undefined) event.publicKeyHash = this.publicKeyHash;
    if (this.environment !== undefined) event.environment = this.environment;
    verifyChannel.publish(event);
  }
}

export function startTimer(): StepTimer | null {
  return verifyChannel.hasSubscribers ? new StepTimer() : null;
}
