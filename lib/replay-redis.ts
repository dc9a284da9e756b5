// Replay protection shared by every instance of a payment service. One Redis command both checks and
// records a transactionId (SET key value NX PX ttl), so two instances verifying the same token at the
// same moment cannot both see it as new: there is no read-then-write gap to race through.
//
// The client is typed by the one method used, so this module imports no Redis library: a service
// without Redis never loads one, and any client with ioredis's calling convention fits.
import { ApplePayError } from './errors.js';
import type { ReplayGuard } from './replay.js';

/**
 * The part of a Redis client the guard needs: ioredis's `set(key, value, 'PX', ms, 'NX')`, resolving
 * to 'OK' when the key was set and null when it already existed. ioredis (v5, v6) and its forks
 * (iovalkey), standalone or `Cluster`, fit as they are; node-redis needs a one-line adapter (README).
 */
export interface RedisSetNxClient {
  set(key: string, value: string, millisecondsToken: 'PX', milliseconds: number, nx: 'NX'): Promise<unknown>;
}

export interface RedisReplayGuardOptions {
  /** Prepended to the lower-cased transactionId. Default "applepay-verify:tx:". */
  keyPrefix?: string;
  /** The clock expiries are counted from; give it the verifier's clock if you inject one. */
  clock?: () => Date;
}

export const DEFAULT_REDIS_KEY_PREFIX = 'applepay-verify:tx:';

function configError(message: string, field: string): ApplePayError {
  return new ApplePayError('CONFIG_INVALID', message, { field });
}

/**
 * A ReplayGuard on Redis. Configure the client to fail fast while Redis is unreachable (no offline
 * queue, a command timeout): a claim that cannot reach Redis then rejects at once and the payment fails
 * closed with REPLAY_STORE_UNAVAILABLE, instead of waiting in the client's queue.
 */
export function redisReplayGuard(client: RedisSetNxClient, options: RedisReplayGuardOptions = {}): ReplayGuard {
  if (typeof client !== 'object' || client === null || typeof client.set !== 'function') {
    throw configError('redisReplayGuard needs a Redis client with a set() method (ioredis-style)', 'client');
  }
  if (typeof options !== 'object' || options === null) throw configError('redisReplayGuard options must be an object', 'options');
  const keyPrefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
  if (typeof keyPrefix !== 'string') throw configError('keyPrefix must be a string', 'keyPrefix');
  const clock = options.clock ?? (() => new Date());
  if (typeof clock !== 'function') throw configError('clock must be a function returning a Date', 'clock');

  return {
    async claim(transactionId: string, expiresAt: Date): Promise<boolean> {
      const now = clock().getTime();
      // Redis refuses PX 0 and negative values; an entry that is already due still has to be written,
      // or the claim would fail instead of answering.
      const ttl = Math.max(1, Math.ceil(expiresAt.getTime() - now));
      if (!Number.isSafeInteger(ttl)) throw new Error('replay claim with an invalid expiry');
      // Apple's transactionId is hex, whose case may vary between copies of one token.
      const reply = await client.set(keyPrefix + transactionId.toLowerCase(), String(now), 'PX', ttl, 'NX');
      if (reply === 'OK') return true;
      if (reply === null) return false;
      // Anything else (a pipeline or transaction wrapper, a proxy's answer) proves nothing either way.
      throw new Error('unexpected reply to SET NX');
    },
  };
}
