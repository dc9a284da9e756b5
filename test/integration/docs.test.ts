// The repository's documentation: the README's error-code table and lib/errors.ts list the same codes
// in the same order; no tracked file cites a document outside the repository or a path of some
// machine; every link between the README, CONTRIBUTING.md and docs/ resolves, anchors included.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ERROR_CODES, errorFamily, httpStatus } from '../../lib/index.js';
import { ROOT } from '../support/helpers.js';

test('README error-code table matches ERROR_CODES', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split('## Error codes')[1]?.split('\n## ')[0] ?? '';
  const codes = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
  expect(codes).toEqual([...ERROR_CODES]);
});

test("README's family column is lib/errors.ts's family and HTTP status of each code", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split('## Error codes')[1]?.split('\n## ')[0] ?? '';
  const rows = [...section.matchAll(/^\| `([A-Z_]+)` \| (\w+) \((\d{3})\) \|/gm)].map((m) => [m[1], m[2], Number(m[3])]);
  expect(rows).toEqual(ERROR_CODES.map((code) => [code, errorFamily(code), httpStatus(code)]));
});

/** Tracked text files with their contents (binary files and vendored third-party data skipped). */
function trackedTexts(): { path: string; text: string }[] {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  const out: { path: string; text: string }[] = [];
  for (const path of files) {
    if (path.startsWith('test-vectors/wycheproof/') || path === 'package-lock.json') continue;
    const full = join(ROOT, path);
    if (!existsSync(full)) continue;
    const buf = readFileSync(full);
    if (buf.includes(0)) continue;
    out.push({ path, text: buf.toString('utf8') });
  }
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of markdown.matchAll(/<a (?:id|name)="([^"]+)"/g)) anchors.add(m[1]!);
  return anchors;
}

describe('documentation stays inside the repository', () => {
  const texts = trackedTexts();
  // Built from parts, so that this file does not match itself.
  const outsideSpec = new RegExp(['spec', '\\s+sections?\\s+\\d', '|', 'shared/', 'spec', '|', 'apple-pay-token', '\\.md'].join(''), 'i');
  const CITATION = new RegExp(['token-format', '\\.md#([\\w-]+)'].join(''), 'g');
  const machinePath = new RegExp(`(^|[^\\w.~-])/(${['work', 'tmp', 'root', 'home', 'Users'].join('|')})/[\\w.-]`);

  test('no tracked file cites a document outside the repository (cite docs/token-format.md)', () => {
    const hits = texts.flatMap(({ path, text }) =>
      text.split('\n').flatMap((line, i) => (outsideSpec.test(line) ? [`${path}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(hits).toEqual([]);
  });

  test('no tracked file contains a path of some machine', () => {
    const hits = texts.flatMap(({ path, text }) =>
      text.split('\n').flatMap((line, i) => (machinePath.test(line) ? [`${path}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(hits).toEqual([]);
  });

  test('every anchor of docs/token-format.md cited anywhere exists', () => {
    const anchors = anchorsOf(readFileSync(join(ROOT, 'docs', 'token-format.md'), 'utf8'));
    const cited = texts.flatMap(({ path, text }) => [...text.matchAll(CITATION)].map((m) => ({ path, anchor: m[1]! })));
    expect(cited.length).toBeGreaterThan(10);
    expect(cited.filter((c) => !anchors.has(c.anchor))).toEqual([]);
  });

  test('every relative link in README.md, CONTRIBUTING.md and docs/ resolves, anchors included', () => {
    const sources = texts.filter(({ path }) => path === 'README.md' || path === 'CONTRIBUTING.md' || /^docs\/.*\.md$/.test(path));
    expect(sources.map((s) => s.path)).toEqual(expect.arrayContaining(['README.md', 'CONTRIBUTING.md', 'docs/token-format.md']));
    const broken: string[] = [];
    let links = 0;
    for (const { path, text } of sources) {
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
        links++;
        const [file, anchor] = target.split('#') as [string, string | undefined];
        const resolved = file === '' ? path : normalize(join(dirname(path), file));
        const full = join(ROOT, resolved);
        if (!existsSync(full)) {
          broken.push(`${path}: ${target} (no such file)`);
          continue;
        }
        if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(readFileSync(full, 'utf8')).has(anchor)) {
          broken.push(`${path}: ${target} (no such anchor)`);
        }
      }
    }
    expect(links).toBeGreaterThan(5);
    expect(broken).toEqual([]);
  });
});
