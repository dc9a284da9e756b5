// The Redis client the replay tests give the guard: fail fast while Redis is away (a claim must be
// refused now, not queued until Redis returns), and keep reconnecting quickly for as long as the process
// lives, since the store may come back at any time.
import { Redis, type RedisOptions } from 'ioredis';

export function failFastRedis(port: number, extra: RedisOptions = {}): Redis {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 500,
    commandTimeout: 1000,
    retryStrategy: () => 50,
    ...extra,
  });
  // Failures reach the verifier as rejected claims; the event only needs a listener.
  client.on('error', () => undefined);
  return client;
}
