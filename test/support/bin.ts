// The command as users run it: node bin/applepay-verify.js, which loads dist/. Every `vitest run`
// compiles lib/ into dist/ first (test/support/dist.ts), so the bin always runs this checkout's code.
import { join } from 'node:path';
import { ROOT } from './helpers.js';

export const BIN = join(ROOT, 'bin', 'applepay-verify.js');
