// A throwaway redis-server for tests: loopback only, a free port, a temporary directory, no persistence
// unless asked for (AOF with fsync at every write). A missing binary is an error, never a skip: the
// replay tests are the only proof that the guard holds across processes; test/support/setup-servers.ts installs
// the Debian package as root, and .ci/run does too.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export function findRedisServer(): string {
  const explicit = process.env.REDIS_SERVER_BIN;
  const candidates = explicit
    ? [explicit]
    : [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/bin', '/usr/sbin', '/usr/local/bin'].map((d) =>
        join(d, 'redis-server'),
      );
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // try the next one
    }
  }
  throw new Error(
    `redis-server not found${explicit ? ` at REDIS_SERVER_BIN=${explicit}` : ' on PATH'}: install it (apt-get install -y redis-server); .ci/run does`,
  );
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts a server on a free port. A free port can be taken between probing and binding; a few tries make
 * that race harmless. On the last failure the server's directory is removed.
 */
export async function launchOnFreePort(
  tries: number,
  dir: string,
  start: (port: number) => Promise<ChildProcess>,
): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return { child: await start(port), port };
    } catch (err) {
      if (attempt >= tries) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
}

export interface RedisServerOptions {
  /** appendonly yes + appendfsync always: a restart keeps every acknowledged write. */
  aof?: boolean;
  maxmemoryPolicy?: string;
  /** e.g. '2mb' */
  maxmemory?: string;
  /** Start as a replica of this port. */
  replicaOf?: number;
}

export interface TestRedis {
  readonly port: number;
  /** SIGSTOP / SIGCONT: a server that holds connections open and answers nothing. */
  pause(): void;
  resume(): void;
  /** SIGKILL, as a crash: no shutdown, no goodbye to clients. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** A fresh, empty server on the same port. */
  restart(): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/** Resolves once the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function launch(bin: string, port: number, dir: string, options: RedisServerOptions = {}): Promise<ChildProcess> {
  const extra: string[] = [];
  if (options.aof) extra.push('--appendonly', 'yes', '--appendfsync', 'always');
  if (options.maxmemoryPolicy !== undefined) extra.push('--maxmemory-policy', options.maxmemoryPolicy);
  if (options.maxmemory !== undefined) extra.push('--maxmemory', options.maxmemory);
  if (options.replicaOf !== undefined) extra.push('--replicaof', '127.0.0.1', String(options.replicaOf));
  const child = spawn(
    bin,
    // No RDB, and AOF only when asked: by default a restart must start empty.
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      ...(options.aof ? [] : ['--appendonly', 'no']),
      ...extra,
      '--daemonize',
      'no',
      '--loglevel',
      'notice',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (output.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        child.off('exit', onExit);
        resolve(child);
      }
    };
    const onExit = (code: number | null): void =>
      reject(new Error(`redis-server exited (${code}) before it was ready:\n${output.slice(-2000)}`));
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', onExit);
    child.once('error', reject);
  });
}

export async function startRedis(options: RedisServerOptions = {}): Promise<TestRedis> {
  const bin = findRedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'applepay-verify-redis-'));
  const launched = await launchOnFreePort(5, dir, (p) => launch(bin, p, dir, options));
  let child: ChildProcess | null = launched.child;
  const port = launched.port;
  // If the test process dies without running its hooks, the server must not outlive it.
  const reap = (): void => {
    child?.kill('SIGCONT');
    child?.kill('SIGKILL');
  };
  process.once('exit', reap);

  return {
    port,
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async kill() {
      if (child === null) return;
      const dying = child;
      dying.kill('SIGKILL');
      await exited(dying);
    },
    async restart() {
      if (child !== null) {
        const old = child;
        old.kill('SIGCONT');
        old.kill('SIGKILL');
        await exited(old);
      }
      // A replica restarts as a replica; whatever else was configured stays.
      child = await launch(bin, port, dir, options);
    },
    async stop() {
      process.off('exit', reap);
      if (child !== null) {
        const last = child;
        last.kill('SIGCONT');
        last.kill('SIGTERM');
        const timer = setTimeout(() => last.kill('SIGKILL'), 2000);
        await exited(last);
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
