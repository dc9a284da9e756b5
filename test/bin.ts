// The command as users run it: node bin/applepay-verify.js, which loads dist/ (compiled by `npm test`'s
// pretest and by `npm install`'s prepare). A stale dist/ would test old code, so tests refuse it.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

export const BIN = join(ROOT, 'bin', 'applepay-verify.js');

export function assertDistFresh(): void {
  const stale = readdirSync(join(ROOT, 'lib'))
    .filter((f) => f.endsWith('.ts'))
    .filter((f) => {
      try {
        return statSync(join(ROOT, 'dist', f.replace(/\.ts$/, '.js'))).mtimeMs < statSync(join(ROOT, 'lib', f)).mtimeMs;
      } catch {
        return true;
      }
    });
  if (stale.length > 0) throw new Error(`dist/ is older than lib/ (${stale.join(', ')}): run npm run build:ts`);
}
