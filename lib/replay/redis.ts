// Replay protection shared by every instance of a payment service. One Lua script both checks and
// records a transactionId (SET key owner PX ttl NX inside it), so two instances verifying the same token
// at the same moment cannot both see it as new: there is no read-then-write gap to race through.
//
// Redis loses data in three ordinary ways, and each would let a token be accepted twice: eviction under
// memory pressure, failover to an asynchronous replica, and a restart without persistence. The guard
// refuses an evicting server, can wait for replicas (WAIT), and fences itself after a wipe.
//
// The client is typed by the methods used, so this module imports no Redis library: a service without
// Redis never loads one, and any client with ioredis's calling convention fits.
import { ApplePayError } from '../errors.js';
import { warnOnce, type StoreReplayGuard, type ReplayWarning } from './guard.js';

/**
 * The part of a Redis client the guard needs, in ioredis's calling convention (ioredis v5/v6 and its
 * forks such as iovalkey fit as they are; node-redis takes a small adapter, docs/replay.md).
 */
export interface RedisReplayClient {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  info(section: string): Promise<string>;
  /** Needed for waitReplicas only. */
  wait?(replicas: number, timeoutMs: number): Promise<unknown>;
}

/** @deprecated The 0.1 client type; redisReplayGuard now needs RedisReplayClient. */
export type RedisSetNxClient = RedisReplayClient;

export interface RedisReplayGuardOptions {
  /** Prepended to the lower-cased transactionId. Default "applepay-verify:tx:". */
  keyPrefix?: string;
  /**
   * Accept a server whose maxmemory-policy may evict claims (allkeys-*, volatile-*). Default false:
   * such a server drops claims under memory pressure and the tokens are accepted again.
   */
  allowEvictingPolicy?: boolean;
  /**
   * Replicas that must acknowledge a claim (WAIT) before it counts. Default 0. A claim they do not
   * confirm within the deadline is released and the verification fails closed: a failover to an
   * asynchronous replica can then lose no accepted claim.
   */
  waitReplicas?: number;
  /** Longest WAIT, in ms. Default 500; the verifier's replayTimeout bounds the whole claim anyway. */
  waitTimeoutMs?: number;
  /**
   * Fail closed after the store lost its data (a sentinel key without TTL went missing): for one claim
   * lifetime, every claim is refused. Default true; false for Redis Cluster, where one script cannot
   * touch keys in different slots.
   */
  restartFence?: boolean;
  /** Called instead of process.emitWarning, once per kind of warning. */
  onWarning?: ReplayWarning;
  /** Seconds between re-reads of INFO memory (the policy can be changed at run time). Default 60. */
  policyCheckInterval?: number;
}

export const DEFAULT_REDIS_KEY_PREFIX = 'applepay-verify:tx:';

function configError(message: string, field: string): ApplePayError {
  return new ApplePayError('CONFIG_INVALID', message, { field });
}

// KEYS: claim, sentinel, fence. ARGV: owner, ttl ms, whether this guard saw the sentinel ('1'/'0'),
// whether fencing is on ('1'/'0').
// Returns 1 claimed, 0 already claimed, -1 fenced (store wiped while we were using it), -2 fence raised now.
const CLAIM_SCRIPT = `
if ARGV[4] == '1' then
  if redis.call('EXISTS', KEYS[2]) == 0 then
    redis.call('SET', KEYS[2], '1')
    if ARGV[3] == '1' then
      redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
      return -2
    end
  end
  if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
end
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
-- The same claim sent again (a client resending after a lost reply) is still this owner's claim.
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
`;

// Compare-and-delete: only the claim's owner removes it.
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

const EVICTING = /^(allkeys|volatile)-/;

class StoreRefused extends Error {}

/** Reads maxmemory_policy out of INFO memory's "key:value" lines. */
export function maxmemoryPolicy(info: string): string | null {
  const match = /^maxmemory_policy:(\S+)/m.exec(info);
  return match === null ? null : match[1]!;
}

function checkClient(client: unknown, onWarning: ReplayWarning | undefined, warned: Set<string>): void {
  // ioredis keeps its settings on `options`; other clients are not inspected.
  const options = (client as { options?: { enableOfflineQueue?: boolean; commandTimeout?: number } }).options;
  if (typeof options !== 'object' || options === null) return;
  if (options.enableOfflineQueue !== false || !(typeof options.commandTimeout === 'number' && options.commandTimeout > 0)) {
    warnOnce(
      onWarning,
      warned,
      'APPLEPAY_VERIFY_REDIS_NOT_FAIL_FAST',
      'redisReplayGuard: the Redis client is not fail-fast (set enableOfflineQueue: false and a commandTimeout); the verifier still bounds every claim by replayTimeout, but queued claims may be applied after the customer was told to retry',
    );
  }
}

/**
 * A ReplayGuard on Redis. Before its first claim it reads INFO memory and refuses a server that may
 * evict claims; each claim runs one script (restart fence + SET NX with a random owner); a claim with
 * an unknown outcome is released by compare-and-delete.
 */
export function redisReplayGuard(client: RedisReplayClient, options: RedisReplayGuardOptions = {}): StoreReplayGuard {
  if (typeof client !== 'object' || client === null || typeof client.eval !== 'function' || typeof client.info !== 'function') {
    throw configError('redisReplayGuard needs a Redis client with eval() and info() methods (ioredis-style)', 'client');
  }
  if (typeof options !== 'object' || options === null) throw configError('redisReplayGuard options must be an object', 'options');
  const keyPrefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
  if (typeof keyPrefix !== 'string') throw configError('keyPrefix must be a string', 'keyPrefix');
  const waitReplicas = options.waitReplicas ?? 0;
  if (!Number.isSafeInteger(waitReplicas) || waitReplicas < 0 || waitReplicas > 100) {
    throw configError('waitReplicas must be an integer from 0 to 100', 'waitReplicas');
  }
  if (waitReplicas > 0 && typeof client.wait !== 'function') throw configError('waitReplicas needs a client with wait()', 'waitReplicas');
  const waitTimeoutMs = options.waitTimeoutMs ?? 500;
  if (!Number.isSafeInteger(waitTimeoutMs) || waitTimeoutMs < 1 || waitTimeoutMs > 60_000) {
    throw configError('waitTimeoutMs must be an integer from 1 to 60000', 'waitTimeoutMs');
  }
  const allowEvicting = options.allowEvictingPolicy ?? false;
  if (typeof allowEvicting !== 'boolean') throw configError('allowEvictingPolicy must be a boolean', 'allowEvictingPolicy');
  const isCluster = (client as { isCluster?: unknown }).isCluster === true;
  const fence = options.restartFence ?? !isCluster;
  if (typeof fence !== 'boolean') throw configError('restartFence must be a boolean', 'restartFence');
  if (fence && isCluster) throw configError('restartFence does not work on Redis Cluster (keys in different slots)', 'restartFence');
  const policyEvery = (options.policyCheckInterval ?? 60) * 1000;
  if (!Number.isFinite(policyEvery) || policyEvery < 0)
    throw configError('policyCheckInterval must be a number of seconds', 'policyCheckInterval');
  if (options.onWarning !== undefined && typeof options.onWarning !== 'function')
    throw configError('onWarning must be a function', 'onWarning');

  const warned = new Set<string>();
  checkClient(client, options.onWarning, warned);
  const sentinelKey = `${keyPrefix}~sentinel`;
  const fenceKey = `${keyPrefix}~fence`;
  let sawSentinel = false;
  let policyChecked: Promise<void> | null = null;
  let policyCheckedAt = 0;

  function checkPolicy(): Promise<void> {
    // The caller accepted the risk: no INFO at all (some managed services restrict it).
    if (allowEvicting) return Promise.resolve();
    const now = Date.now();
    if (policyChecked === null || now - policyCheckedAt > policyEvery) {
      policyCheckedAt = now;
      const check = client.info('memory').then((info) => {
        const policy = maxmemoryPolicy(info);
        if (policy !== null && EVICTING.test(policy) && !allowEvicting) {
          warnOnce(
            options.onWarning,
            warned,
            'APPLEPAY_VERIFY_REDIS_EVICTING',
            `redisReplayGuard: the Redis maxmemory-policy is ${policy}, which can evict claims and let tokens be accepted twice; claims are refused until it is noeviction (or allowEvictingPolicy is set)`,
          );
          throw new StoreRefused(`Redis maxmemory-policy ${policy} may evict claims`);
        }
      });
      // A failed read is tried again at the next claim, not cached.
      check.catch(() => {
        if (policyChecked === check) policyChecked = null;
      });
      policyChecked = check;
    }
    return policyChecked;
  }

  // Apple's transactionId is hex, whose case may vary between copies of one token.
  const keyOf = (transactionId: string): string => keyPrefix + transactionId.toLowerCase();

  async function release(transactionId: string, owner: string): Promise<boolean> {
    const reply = await client.eval(RELEASE_SCRIPT, 1, keyOf(transactionId), owner);
    if (reply === 1 || reply === 0) return reply === 1;
    throw new Error('unexpected reply to the release script');
  }

  async function acquire(transactionId: string, ttlMs: number, owner: string): Promise<boolean> {
    const ttl = Math.ceil(ttlMs);
    if (!Number.isSafeInteger(ttl) || ttl < 1) throw new Error('replay claim with an invalid lifetime');
    await checkPolicy();
    const reply = await client.eval(
      CLAIM_SCRIPT,
      3,
      keyOf(transactionId),
      sentinelKey,
      fenceKey,
      owner,
      ttl,
      sawSentinel ? '1' : '0',
      fence ? '1' : '0',
    );
    if (reply === -1 || reply === -2) {
      warnOnce(
        options.onWarning,
        warned,
        'APPLEPAY_VERIFY_REDIS_FENCED',
        `redisReplayGuard: the Redis store lost its data (restart without persistence, flush or failover); claims are refused until the fence key ${fenceKey} expires`,
      );
      throw new StoreRefused('replay store fenced after losing its data');
    }
    if (reply !== 1 && reply !== 0) {
      // Anything else (a pipeline or transaction wrapper, a proxy's answer) proves nothing either way.
      throw new Error('unexpected reply to the claim script');
    }
    sawSentinel = true;
    if (reply === 0) return false;
    if (waitReplicas > 0) {
      let acked: unknown;
      try {
        acked = await client.wait!(waitReplicas, waitTimeoutMs);
      } catch {
        acked = 0;
      }
      if (typeof acked !== 'number' || acked < waitReplicas) {
        // Not durable: a failover now would forget it. Take it back (best effort; the verifier resolves
        // it again if this fails) and refuse.
        await release(transactionId, owner).catch(() => undefined);
        throw new StoreRefused(`only ${String(acked)} of ${waitReplicas} replicas confirmed the claim`);
      }
    }
    return true;
  }

  return {
    acquire,
    release,
    /** Checks the server now (policy, reachability): call it at boot to fail there instead of at the first payment. */
    async ready(): Promise<void> {
      try {
        policyChecked = null;
        await checkPolicy();
      } catch (err) {
        if (err instanceof StoreRefused) throw configError(`redisReplayGuard: ${err.message}`, 'replayGuard');
        throw new ApplePayError('REPLAY_STORE_UNAVAILABLE', 'the replay store could not be reached');
      }
    },
  };
}
