// A throwaway PostgreSQL server for tests: initdb in a temporary directory, loopback only, a free port,
// trust authentication for the `postgres` role. PostgreSQL refuses to run as root, so as root the
// server runs as the Debian package's `postgres` user. A missing binary is an error, never a skip
// (test/support/setup-servers.ts installs the package as root).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chownSync, constants, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, launchOnFreePort } from './redis-server.js';

export function findPostgresBin(): string {
  const explicit = process.env.PG_BIN_DIR;
  const dirs: string[] = explicit ? [explicit] : [];
  if (!explicit) {
    try {
      // Newest major version first.
      const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
      for (const v of versions) dirs.push(join('/usr/lib/postgresql', v, 'bin'));
    } catch {
      // not the Debian layout
    }
    dirs.push('/usr/local/pgsql/bin', '/usr/bin');
  }
  for (const dir of dirs) {
    try {
      accessSync(join(dir, 'initdb'), constants.X_OK);
      accessSync(join(dir, 'postgres'), constants.X_OK);
      return dir;
    } catch {
      // next
    }
  }
  throw new Error(
    'PostgreSQL server binaries (initdb, postgres) not found: install them (apt-get install -y postgresql), or set PG_BIN_DIR',
  );
}

interface RunAs {
  uid?: number;
  gid?: number;
}

function runAs(): RunAs {
  if (process.getuid?.() !== 0) return {};
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    return { uid, gid };
  } catch {
    throw new Error('running as root, but there is no postgres user to run PostgreSQL as (apt-get install -y postgresql creates it)');
  }
}

export interface TestPostgres {
  readonly port: number;
  /** SIGSTOP / SIGCONT on every server process: connections stay open, nothing answers. */
  pause(): void;
  resume(): void;
  /** SIGKILL to every server process, as a crash. */
  kill(): Promise<void>;
  /** Starts again on the same data directory (crash recovery replays the WAL). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** The postmaster and every process it forked (backends leave its process group with setsid). */
function serverPids(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: the fields start after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!) ?? []));
  return out;
}

function signalGroup(child: ChildProcess | null, signal: NodeJS.Signals): void {
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  for (const pid of serverPids(child.pid)) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function launch(bin: string, dir: string, port: number, as: RunAs): Promise<ChildProcess> {
  const child = spawn(
    join(bin, 'postgres'),
    ['-D', dir, '-p', String(port), '-h', '127.0.0.1', '-k', dir, '-c', 'max_connections=60', '-c', 'shared_buffers=16MB'],
    // Its own process group, so that pause and kill reach the backends too.
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...as },
  );
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      signalGroup(child, 'SIGKILL');
      reject(new Error(`postgres not ready after 30 s:\n${output.slice(-2000)}`));
    }, 30_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (output.includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        child.stderr?.off('data', onData);
        child.stderr?.resume();
        child.stdout?.resume();
        child.off('exit', onExit);
        resolve(child);
      }
    };
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`postgres exited (${code}) before it was ready:\n${output.slice(-2000)}`));
    };
    child.stderr?.on('data', onData);
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', reject);
  });
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = findPostgresBin();
  const as = runAs();
  const dir = mkdtempSync(join(tmpdir(), 'applepay-verify-pg-'));
  if (as.uid !== undefined) chownSync(dir, as.uid, as.gid!);
  execFileSync(join(bin, 'initdb'), ['-D', dir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...as,
  });
  const launched = await launchOnFreePort(3, dir, (p) => launch(bin, dir, p, as));
  let child: ChildProcess | null = launched.child;
  const port = launched.port;
  const reap = (): void => {
    signalGroup(child, 'SIGCONT');
    signalGroup(child, 'SIGKILL');
  };
  process.once('exit', reap);

  const killAll = async (): Promise<void> => {
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const dying = child;
    const pids = serverPids(dying.pid!);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await exited(dying);
    // Wait until every backend is gone, so the next start finds no shared memory in use.
    for (let i = 0; i < 100; i++) {
      const alive = pids.filter((pid) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      });
      if (alive.length === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  return {
    port,
    pause: () => signalGroup(child, 'SIGSTOP'),
    resume: () => signalGroup(child, 'SIGCONT'),
    kill: killAll,
    async restart() {
      await killAll();
      child = await launch(bin, dir, port, as);
    },
    async stop() {
      process.off('exit', reap);
      if (child !== null) {
        const last = child;
        signalGroup(last, 'SIGCONT');
        // Immediate shutdown: the test's data is thrown away anyway.
        signalGroup(last, 'SIGQUIT');
        const timer = setTimeout(() => signalGroup(last, 'SIGKILL'), 3000);
        await exited(last);
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
