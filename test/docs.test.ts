// The README's error-code table and lib/errors.ts list the same codes, in the same order.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { ERROR_CODES } from '../lib/index.js';
import { ROOT } from './helpers.js';

test('README error-code table matches ERROR_CODES', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split('## Error codes')[1]?.split('\n## ')[0] ?? '';
  const codes = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
  expect(codes).toEqual([...ERROR_CODES]);
});
