// vitest globalSetup: the replay tests need a real redis-server and PostgreSQL. As root (CI, a fresh
// container) missing servers are installed with apt, so `npm install && npm test` is the whole set-up;
// otherwise the run stops at once with the one command that installs them. Never a silent skip.
import { execFileSync } from 'node:child_process';
import { findPostgresBin } from './postgres-server.js';
import { findRedisServer } from './redis-server.js';

const INSTALL = 'sudo apt-get update && sudo apt-get install -y redis-server postgresql';

function missing(): string[] {
  const out: string[] = [];
  try {
    findRedisServer();
  } catch {
    out.push('redis-server');
  }
  try {
    findPostgresBin();
  } catch {
    out.push('postgresql');
  }
  return out;
}

function hasApt(): boolean {
  try {
    execFileSync('apt-get', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export default function setup(): void {
  let absent = missing();
  if (absent.length === 0) return;
  if (process.getuid?.() === 0 && hasApt()) {
    process.stderr.write(`test set-up: installing ${absent.join(' and ')} with apt-get (the replay tests run against real servers)\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', ...absent], { stdio: 'inherit', env });
    absent = missing();
    if (absent.length === 0) return;
  }
  throw new Error(
    `The replay tests need ${absent.join(' and ')} (real servers on loopback). Install them with:\n\n  ${INSTALL}\n\n` +
      '(or point REDIS_SERVER_BIN / PG_BIN_DIR at existing binaries), then run npm test again.',
  );
}
