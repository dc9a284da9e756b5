// The package as a user gets it: `npm run prebuild` builds this platform's prebuilt binary, `npm pack`
// packs it, and the tarball is installed into an empty project on a PATH that holds node, npm and sh and
// nothing else (no cc, c++, make or python), with the package's install script allowed to run. The
// install must compile nothing, and a real Apple Pay token must verify through `import`, `require` and
// the command. The prebuild is made in a copy of the repository: node-gyp rebuild empties build/,
// which the other test files, running at the same time, load the addon from.
import { execFile, execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT } from '../support/helpers.js';

const SET = 'basistheory-ec-2023-03';
const REAL = join(ROOT, 'test-vectors', 'real', SET);
const vector = JSON.parse(readFileSync(join(REAL, 'vector.json'), 'utf8')) as {
  now: string;
  expected: { payment: { applicationPrimaryAccountNumber: string; paymentData: { onlinePaymentCryptogram: string } } };
};

let work: string;
let consumer: string;
let bare: NodeJS.ProcessEnv;
let installLog = '';
let tarballPath: string;
let withoutPrebuild: string;

function which(name: string): string {
  return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
}

/** The environment of a machine with node and npm only: no npm_config_* from the npm that runs the tests. */
function bareEnv(bin: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: bin, HOME: process.env.HOME, LANG: 'C' };
  // The registry cache this machine already has: the dependencies come from it, not from the network.
  env.npm_config_cache = execFileSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).trim();
  return env;
}

function check(r: SpawnSyncReturns<string>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'applepay-verify-install-'));
  // 1. A copy of the package sources: what `npm pack` would take, plus lib/ and tsconfig.json for the
  //    prepare script (tsc), and the repository's node_modules for the build tools.
  const src = join(work, 'src');
  const listed = JSON.parse(
    check(spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' }), 'npm pack --dry-run'),
  ) as { files: { path: string }[] }[];
  for (const { path } of listed[0]!.files) {
    if (path.startsWith('prebuilds/')) continue; // made below, for this copy
    mkdirSync(dirname(join(src, path)), { recursive: true });
    cpSync(join(ROOT, path), join(src, path));
  }
  cpSync(join(ROOT, 'lib'), join(src, 'lib'), { recursive: true });
  cpSync(join(ROOT, 'tsconfig.json'), join(src, 'tsconfig.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'), 'dir');

  // 2. A tarball without any prebuild (as on a platform the release does not cover), then
  //    npm run prebuild and npm pack.
  mkdirSync(join(work, 'bare-tarball'));
  check(
    spawnSync('npm', ['pack', '--ignore-scripts', '--pack-destination', join(work, 'bare-tarball')], { cwd: src, encoding: 'utf8' }),
    'npm pack',
  );
  withoutPrebuild = join(work, 'bare-tarball', readdirSync(join(work, 'bare-tarball'))[0]!);
  check(spawnSync('npm', ['run', 'prebuild'], { cwd: src, encoding: 'utf8' }), 'npm run prebuild');
  // A build as a user's install makes it: warnings stay warnings (-Werror is for this repository's CI).
  if (process.platform === 'linux') expect(readFileSync(join(src, 'build', 'applepay_verify.target.mk'), 'utf8')).not.toContain('-Werror');
  const tarball = check(spawnSync('npm', ['pack', '--pack-destination', work], { cwd: src, encoding: 'utf8' }), 'npm pack')
    .trim()
    .split('\n')
    .pop()!;

  tarballPath = join(work, tarball);

  // 3. An empty project and a PATH of node and npm alone.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(which('node'), join(bin, 'node'));
  symlinkSync(which('npm'), join(bin, 'npm'));
  // npm runs scripts with sh; a shell is on every machine and compiles nothing.
  symlinkSync(which('sh'), join(bin, 'sh'));
  bare = bareEnv(bin);
  for (const tool of ['cc', 'gcc', 'c++', 'g++', 'clang', 'make', 'python3', 'python']) {
    expect(spawnSync('sh', ['-c', `command -v ${tool}`], { env: bare }).status, `${tool} is reachable`).not.toBe(0);
  }
  consumer = join(work, 'app');
  mkdirSync(consumer);
  // allowScripts: npm 11 runs a dependency's install script only when the project allows it (older npm
  // ignores the field and runs it anyway); the script must then find the prebuild and compile nothing.
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'app', version: '1.0.0', private: true, allowScripts: { 'applepay-verify': true } }),
  );
  const install = spawnSync(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', join(work, tarball)],
    { cwd: consumer, env: bare, encoding: 'utf8', timeout: 240_000 },
  );
  installLog = `${install.stdout}\n${install.stderr}`;
  check(install, 'npm install of the tarball');
}, 600_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** A TypeScript consumer: the package's types checked in full (skipLibCheck off) under one module setting. */
function typecheck(name: string, compilerOptions: Record<string, unknown>, files: Record<string, string>): Promise<string> {
  const dir = join(consumer, 'types', name);
  mkdirSync(dir, { recursive: true });
  for (const [file, code] of Object.entries(files)) writeFileSync(join(dir, file), code);
  const tsconfig = {
    compilerOptions: {
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules', '@types')],
      ...compilerOptions,
    },
    files: Object.keys(files),
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
  return new Promise((done) => {
    execFile(process.execPath, [TSC, '-p', dir], { cwd: dir, encoding: 'utf8', timeout: 280_000 }, (_err, stdout, stderr) =>
      done(`${name}: ${stdout}${stderr}`),
    );
  });
}

const TYPED_USE = `
  const verifier: Verifier = createVerifier({ merchants: { certificate: 'pem', privateKey: 'pem' } });
  export async function use(token: unknown): Promise<string> {
    try {
      const result: Result = await verifier.verifyAndDecrypt(token);
      return result.payment.applicationPrimaryAccountNumber;
    } catch (err) {
      if (err instanceof AddonLoadError) return err.tried.map((t) => t.path).join();
      if (isApplePayError(err)) { const code: ErrorCode = err.code; return code; }
      throw err;
    }
  }
`;

function runIn(args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync(args[0]!, args.slice(1), { cwd: consumer, env: bare, encoding: 'utf8', timeout: 60_000, input });
}

describe('the packed package, installed where nothing can compile', () => {
  test('the install ran the package script, which found the prebuild and compiled nothing', () => {
    const pkg = join(consumer, 'node_modules', 'applepay-verify');
    expect(installLog).toContain('node-gyp-build');
    expect(installLog).not.toMatch(/gyp info|gyp ERR|CXX\(target\)/);
    expect(existsSync(join(pkg, 'build'))).toBe(false);
    expect(readdirSync(join(pkg, 'prebuilds', `${process.platform}-${process.arch}`))).toEqual(['applepay-verify.glibc.node']);
  });

  test('the tarball holds the package and nothing of the repository besides', () => {
    const pkg = join(consumer, 'node_modules', 'applepay-verify');
    const top = readdirSync(pkg).sort();
    expect(top).toEqual(
      ['LICENSE', 'README.md', 'bin', 'binding.gyp', 'dist', 'native', 'package.json', 'prebuilds', 'test-vectors'].sort(),
    );
    expect(readdirSync(join(pkg, 'test-vectors')).sort()).toEqual(['README.md', 'pki', 'real', 'vectors']);
  });

  const verifyScript = (load: string) => `
    ${load}
    const { readFileSync } = require('node:fs');
    const real = require.resolve('applepay-verify/package.json').replace(/package\\.json$/, 'test-vectors/real/${SET}/');
    const verifier = createVerifier({ merchants: {
      certificate: readFileSync(real + 'merchant_cert.pem'), privateKey: readFileSync(real + 'merchant_key.TEST-KEY.pem') } });
    verifier.verifyAndDecrypt(readFileSync(real + 'token.json'), { now: new Date(${JSON.stringify(vector.now)}) })
      .then((r) => console.log(JSON.stringify(r.payment)), (e) => { console.log(e.code, e.message); process.exitCode = 1; });`;

  test('import (ESM) verifies a real token', () => {
    const script = verifyScript(
      "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); import { createVerifier } from 'applepay-verify';",
    );
    const out = check(runIn(['node', '--input-type=module', '-e', script]), 'the ESM consumer');
    expect(JSON.parse(out)).toEqual(vector.expected.payment);
  });

  test('require (CommonJS, through require(esm)) verifies a real token', () => {
    const script = verifyScript("const { createVerifier } = require('applepay-verify');");
    const out = check(runIn(['node', '--input-type=commonjs', '-e', script]), 'the CommonJS consumer');
    expect(JSON.parse(out)).toEqual(vector.expected.payment);
  });

  test('the command verifies a real token and runs the shipped vectors', () => {
    const cli = join(consumer, 'node_modules', '.bin', 'applepay-verify');
    const real = join(consumer, 'node_modules', 'applepay-verify', 'test-vectors', 'real', SET);
    const args = ['--cert', join(real, 'merchant_cert.pem'), '--key', join(real, 'merchant_key.TEST-KEY.pem'), '--now', vector.now];
    const human = check(runIn([cli, ...args, join(real, 'token.json')]), 'applepay-verify');
    expect(human).toMatch(/^verified/);
    const pan = vector.expected.payment.applicationPrimaryAccountNumber;
    expect(human).toContain(pan.slice(-4));
    expect(human).not.toContain(pan);
    const json = JSON.parse(check(runIn([cli, ...args, '--json', '--reveal', join(real, 'token.json')]), 'applepay-verify --json')) as {
      ok: boolean;
      result: { payment: unknown };
    };
    expect(json.ok).toBe(true);
    expect(json.result.payment).toEqual(vector.expected.payment);
    const vectors = check(runIn([cli, 'vectors']), 'applepay-verify vectors');
    expect(vectors).toMatch(/^\d+ passed, 0 failed$/m);
  });

  test('publint --strict and @arethetypeswrong/cli find nothing wrong with the tarball', () => {
    const publint = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'publint', 'src', 'cli.js'), 'run', '--strict', tarballPath], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(`${publint.stdout}${publint.stderr}`).toContain('All good');
    expect(publint.status).toBe(0);
    // ESM only: CommonJS loads it with require() through Node's require(esm) (Node >= 20.19, the engines
    // floor; tested above), which attw's node16 CommonJS check predates.
    const attw = spawnSync(
      process.execPath,
      [
        join(ROOT, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js'),
        tarballPath,
        '--ignore-rules',
        'cjs-resolves-to-esm',
        '--format',
        'json',
      ],
      { encoding: 'utf8', timeout: 180_000 },
    );
    const report = JSON.parse(attw.stdout) as { analysis: { problems: unknown[] } };
    expect(report.analysis.problems.filter((p) => (p as { kind: string }).kind !== 'CJSResolvesToESM')).toEqual([]);
    expect(attw.status).toBe(0);
  });

  test('the types check in full (skipLibCheck off) for nodenext (ESM and require), node16, bundler and node10 consumers', async () => {
    const esm = `import { AddonLoadError, createVerifier, isApplePayError, type ErrorCode, type Result, type Verifier } from 'applepay-verify';\n${TYPED_USE}`;
    const cjs = `import av = require('applepay-verify');\nconst { AddonLoadError, createVerifier, isApplePayError } = av;\ntype ErrorCode = av.ErrorCode; type Result = av.Result; type Verifier = av.Verifier;\n${TYPED_USE}`;
    // Three programs, run at once (each checks @types/node in full too, which dominates the time).
    const cases: [string, Record<string, unknown>, Record<string, string>][] = [
      ['nodenext', { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022' }, { 'use.mts': esm, 'use.cts': cjs }],
      ['node16', { module: 'node16', moduleResolution: 'node16', target: 'es2022' }, { 'use.mts': esm }],
      ['bundler', { module: 'esnext', moduleResolution: 'bundler', target: 'es2022' }, { 'use.ts': esm }],
      ['node10', { module: 'commonjs', moduleResolution: 'node10', target: 'es2022', esModuleInterop: true }, { 'use.ts': esm }],
    ];
    const results = await Promise.all(cases.map(([name, options, files]) => typecheck(name, options, files)));
    expect(results).toEqual(cases.map(([name]) => `${name}: `));
  }, 300_000);

  test("with no prebuild for the machine and no compiler, the install fails with what the package needs after node-gyp's errors", () => {
    const app = join(work, 'app-without-prebuild');
    mkdirSync(app);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'app2', version: '1.0.0', private: true, allowScripts: { 'applepay-verify': true } }),
    );
    const r = spawnSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', withoutPrebuild], {
      cwd: app,
      env: bare,
      encoding: 'utf8',
      timeout: 240_000,
    });
    expect(r.status).not.toBe(0);
    const out = `${r.stdout}\n${r.stderr}`;
    expect(out).toMatch(/gyp ERR/);
    expect(out).toContain(`applepay-verify: no prebuilt addon fits platform ${process.platform}, arch ${process.arch}`);
    expect(out).toContain('build-essential python3');
    expect(out).toContain('apk add --no-cache build-base python3');
    expect(out).toContain('RUN apt-get update && apt-get install -y --no-install-recommends build-essential python3');
  }, 300_000);
});
