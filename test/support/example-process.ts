// Starts examples/server/main.ts as its own process on a loopback port, configured as a deployment would
// be (environment variables), with the test PKI. Used by test/integration/example-server.test.ts and bench/load.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PKI = join(ROOT, 'test-vectors', 'pki');

export interface ExampleServer {
  readonly url: string;
  /** Every line the server wrote to stdout after its "listening" line (when `keepLog`), and to stderr. */
  readonly log: string[];
  readonly stderr: string[];
  stop(): Promise<void>;
}

export interface ExampleServerOptions {
  /** Extra environment, e.g. REDIS_URL or MAX_BODY_BYTES. */
  env?: Record<string, string>;
  /** Keep the request log lines in memory (a load run turns this off). Default true. */
  keepLog?: boolean;
}

export function exampleEnv(): Record<string, string> {
  return {
    APPLEPAY_MERCHANT_CERTS: [join(PKI, 'merchant-ec.pem'), join(PKI, 'merchant-rsa.pem')].join(','),
    APPLEPAY_MERCHANT_KEYS: [join(PKI, 'merchant-ec.key.pem'), join(PKI, 'merchant-rsa.key.pem')].join(','),
    APPLEPAY_ROOT_CERT: join(PKI, 'root.pem'),
    HOST: '127.0.0.1',
    PORT: '0',
  };
}

export function startExampleServer(options: ExampleServerOptions = {}): Promise<ExampleServer> {
  const keepLog = options.keepLog ?? true;
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'examples', 'server', 'main.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...exampleEnv(), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const lines = createInterface({ input: child.stdout! });
  // If the test process dies without its hooks, the server must not outlive it.
  const reap = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', reap);

  return new Promise((resolve, reject) => {
    let url: string | null = null;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`example server not listening after 30 s\n${stderr.join('\n')}`));
    }, 30_000);
    child.once('exit', (code, signal) => {
      process.off('exit', reap);
      if (url === null) {
        clearTimeout(timer);
        reject(new Error(`example server exited (${code ?? signal}) before listening\n${stderr.join('\n')}`));
      }
    });
    lines.on('line', (line) => {
      if (url !== null) {
        if (keepLog) log.push(line);
        return;
      }
      let first: { msg?: string; url?: string };
      try {
        first = JSON.parse(line) as typeof first;
      } catch {
        return;
      }
      if (first.msg !== 'listening' || first.url === undefined) return;
      url = first.url;
      clearTimeout(timer);
      resolve({
        url,
        log,
        stderr,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const gone = new Promise((done) => child.once('exit', done));
          child.kill('SIGTERM');
          const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await gone;
          clearTimeout(force);
        },
      });
    });
  });
}
