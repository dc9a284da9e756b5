// The example payment endpoint as a process: configuration from environment variables (README.md beside
// this file), a memory replay guard unless REDIS_URL names a shared Redis, one JSON log line per request.
//
//   APPLEPAY_MERCHANT_CERTS=cert.pem APPLEPAY_MERCHANT_KEYS=key.pem node --import tsx examples/server/main.ts
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import {
  createVerifier,
  memoryReplayGuard,
  redisReplayGuard,
  type MerchantOptions,
  type ReplayGuard,
  type VerifierOptions,
} from '../../lib/index.js';
import { createPaymentServer, DEFAULT_MAX_BODY_BYTES } from './app.js';

class ConfigError extends Error {}

function list(name: string): string[] {
  return (process.env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function integer(name: string, fallback: number, min: number, max: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}`);
  return value;
}

function merchants(): MerchantOptions[] {
  const certs = list('APPLEPAY_MERCHANT_CERTS');
  const keys = list('APPLEPAY_MERCHANT_KEYS');
  if (keys.length === 0) throw new ConfigError('APPLEPAY_MERCHANT_KEYS must name at least one private key file');
  if (certs.length !== 0 && certs.length !== keys.length) {
    throw new ConfigError('APPLEPAY_MERCHANT_CERTS and APPLEPAY_MERCHANT_KEYS must list as many files, paired by position');
  }
  const passphrase = process.env.APPLEPAY_KEY_PASSPHRASE;
  return keys.map((keyPath, i) => {
    const merchant: MerchantOptions = { privateKey: readFileSync(keyPath) };
    // A PKCS#12 key file may carry its certificate; then no certificate path is needed.
    const certPath = certs[i];
    if (certPath !== undefined) merchant.certificate = readFileSync(certPath);
    if (passphrase !== undefined) merchant.passphrase = passphrase;
    return merchant;
  });
}

interface Store {
  guard: ReplayGuard;
  kind: 'memory' | 'redis';
  close(): Promise<void>;
}

async function replayStore(): Promise<Store> {
  const url = process.env.REDIS_URL;
  if (url === undefined || url === '') {
    // One process only: behind a load balancer every instance needs the same store, i.e. REDIS_URL.
    return { guard: memoryReplayGuard(), kind: 'memory', close: async () => undefined };
  }
  // Loaded only when asked for, so that the memory setup runs without the Redis client installed.
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    // While Redis is unreachable a claim must fail now (503), not wait in a queue for a reconnection.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // A SET whose reply was lost may have been applied: do not resend it as if it had not.
    autoResendUnfulfilledCommands: false,
    connectTimeout: 1000,
    commandTimeout: 1000,
    // Reconnect for as long as the process lives, never more than half a second apart.
    retryStrategy: (times) => Math.min(times * 50, 500),
    lazyConnect: true,
  });
  let lastError = '';
  redis.on('error', (err: Error) => {
    // One line per kind of failure, not one per reconnection attempt.
    if (err.message !== lastError) process.stderr.write(`${JSON.stringify({ msg: 'redis error', error: err.message })}\n`);
    lastError = err.message;
  });
  redis.on('ready', () => {
    lastError = '';
  });
  // Refuse to start without the store: a boot that cannot reach it is a configuration problem. The URL
  // is not repeated in the message: it may hold a password.
  await redis.connect().catch((err: unknown) => {
    redis.disconnect();
    throw new Error(`cannot reach the Redis of REDIS_URL: ${lastError || (err instanceof Error ? err.message : String(err))}`);
  });
  const guard = redisReplayGuard(redis);
  // Refuse to start on a Redis that would evict claims (maxmemory-policy), like an unreachable one.
  await guard.ready().catch((err: unknown) => {
    redis.disconnect();
    throw err;
  });
  return { guard, kind: 'redis', close: async () => void (await redis.quit().catch(() => redis.disconnect())) };
}

async function main(): Promise<void> {
  const store = await replayStore();
  const rootPath = process.env.APPLEPAY_ROOT_CERT;
  const options: VerifierOptions = { merchants: merchants(), replayGuard: store.guard };
  // Tests point this at their own root; production leaves it unset and gets the pinned Apple root.
  if (rootPath !== undefined && rootPath !== '') options.rootCertificate = readFileSync(rootPath);
  const verifier = createVerifier(options);

  const server = createPaymentServer({ verifier, maxBodyBytes: integer('MAX_BODY_BYTES', DEFAULT_MAX_BODY_BYTES, 1024, 1024 * 1024) });
  const host = process.env.HOST || '127.0.0.1';
  const port = integer('PORT', 8080, 0, 65535);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://${shown}:${address.port}`, replayGuard: store.kind })}\n`);

  const shutdown = (): void => {
    server.close(() => void store.close().then(() => process.exit(0)));
    server.closeIdleConnections();
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  // Configuration errors from createVerifier carry a code and a safe message; file errors name a path.
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${JSON.stringify({ msg: 'cannot start', code, error: message })}\n`);
  process.exit(1);
});
