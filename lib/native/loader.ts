// Finds and loads the native addon, once, on first use, and explains a failure to load it.
//
// Where it looks, in order, relative to the package root (one level above this file, both as
// lib/native/loader.ts in the repository and as dist/native/loader.js in the package):
//   1. build/Release/applepay_verify.node: what `node-gyp rebuild` (the install fallback) produces;
//   2. prebuilds/<platform>-<arch>/*.node: the prebuilt binaries shipped in the package (prebuildify
//      names, e.g. applepay-verify.glibc.node), those tagged for another libc or Node ABI left out.
// No environment variable, working directory or configuration moves this: a payment process loads
// only the native code inside its own package. Tests that need another build (the sanitizer runs)
// call useAddonForTesting() before the first load; nothing in the package calls it.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplePayError } from '../errors.js';

const ADDON_FILE = 'applepay_verify.node';
const require = createRequire(import.meta.url);

/** What one place the loader looked at gave. */
export interface AddonAttempt {
  path: string;
  /** Why this candidate was not used: absent, skipped (with the reason), or the loader's own message. */
  outcome: string;
}

/** The machine as the loader sees it: what a prebuild must match. */
export interface AddonPlatform {
  platform: string;
  arch: string;
  /** Linux only: glibc or musl; null elsewhere. */
  libc: 'glibc' | 'musl' | null;
  node: string;
  /** process.versions.modules: the ABI of non-N-API addons (ours is N-API: any ABI loads it). */
  abi: string;
  /** The highest N-API version this Node offers; the addon needs 8. */
  napi: string;
}

const NAPI_NEEDED = 8;

/**
 * The addon could not be loaded: no build and no prebuild for this machine, or one that the operating
 * system refused. Thrown by the first call that needs the addon (createVerifier, verifyAndDecrypt, the
 * CLI's verification commands), never at import. An installation problem, not a verdict on a token: an
 * ApplePayError with code INTERNAL (so every caller's existing handling of faults applies), told apart by
 * `err instanceof AddonLoadError` or `err.tried`; the same error on every call until the package is
 * repaired and the process restarted.
 */
export class AddonLoadError extends ApplePayError {
  readonly platform: AddonPlatform;
  readonly tried: readonly AddonAttempt[];

  constructor(message: string, machine: AddonPlatform, tried: readonly AddonAttempt[]) {
    super('INTERNAL', message);
    this.name = 'ApplePayError';
    this.platform = machine;
    this.tried = tried;
  }
}

function detectLibc(): 'glibc' | 'musl' | null {
  if (platform() !== 'linux') return null;
  // The dynamic loader names the C library: musl installs ld-musl-<arch>.so.1 in /lib.
  try {
    if (readdirSync('/lib').some((f) => f.startsWith('ld-musl-'))) return 'musl';
  } catch {
    // No readable /lib: fall through to the header of Node's own diagnostic report.
  }
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header !== undefined && header.glibcVersionRuntime === undefined ? 'musl' : 'glibc';
}

export function describeMachine(): AddonPlatform {
  return {
    platform: platform(),
    arch: arch(),
    libc: detectLibc(),
    node: process.versions.node,
    abi: process.versions.modules,
    napi: process.versions.napi ?? 'none',
  };
}

/** Prebuilds in dir that this machine could use, most specific first; the others with the reason. */
function prebuildCandidates(dir: string, machine: AddonPlatform, tried: AddonAttempt[]): string[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.node'));
  } catch {
    tried.push({ path: join(dir, '*.node'), outcome: 'absent (no prebuild shipped for this platform and architecture)' });
    return [];
  }
  if (files.length === 0) tried.push({ path: join(dir, '*.node'), outcome: 'absent (the directory is empty)' });
  const usable: { file: string; specificity: number }[] = [];
  for (const file of files) {
    const tags = file.split('.').slice(1, -1);
    const libc = tags.find((t) => t === 'glibc' || t === 'musl');
    const abi = tags.find((t) => /^abi\d+$/.test(t));
    // A libc tag means something on Linux only (prebuildify writes "glibc" elsewhere too).
    if (libc !== undefined && machine.libc !== null && libc !== machine.libc) {
      tried.push({ path: join(dir, file), outcome: `skipped: built for ${libc}, this system uses ${machine.libc ?? 'no libc tag'}` });
    } else if (abi !== undefined && !tags.includes('napi') && abi !== `abi${machine.abi}`) {
      tried.push({ path: join(dir, file), outcome: `skipped: built for Node ABI ${abi.slice(3)}, this Node is ${machine.abi}` });
    } else {
      usable.push({ file, specificity: tags.length });
    }
  }
  return usable.sort((a, b) => b.specificity - a.specificity).map((u) => join(dir, u.file));
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.trim();
}

/** Whether root is this package's directory: a bundle puts this code somewhere else. */
function isThisPackage(root: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: unknown }).name === 'applepay-verify';
  } catch {
    return false;
  }
}

function fixes(machine: AddonPlatform, tried: readonly AddonAttempt[], root: string): string[] {
  const refused = tried.some((t) => t.outcome.startsWith('refused'));
  const lines: string[] = [];
  if (!isThisPackage(root)) {
    lines.push(
      `- This code does not run from its installed package (${root} is not the package): a bundler ` +
        '(webpack, esbuild, Rollup, Vite, Next.js) copied it. Mark "applepay-verify" as external so that ' +
        'it stays in node_modules, e.g. esbuild --external:applepay-verify, webpack externals, Next.js ' +
        'serverExternalPackages.',
    );
  }
  if (refused) {
    lines.push(
      '- A build was found but the system refused it (built for another platform, architecture or C library, ' +
        'e.g. node_modules copied from macOS or from a glibc image into Alpine): install inside the target ' +
        'system, or run `npm rebuild applepay-verify` there.',
    );
  }
  lines.push(
    '- No prebuilt binary fits this machine and the install script that compiles one did not run. It is ' +
      'skipped by npm --ignore-scripts, by npm versions that block dependency scripts until approved ' +
      '(allowScripts), by pnpm 10 by default, by yarn enableScripts: false and by bun without ' +
      'trustedDependencies. Allow it, then rebuild:\n' +
      '    npm:  npm install-scripts approve applepay-verify (npm with allowScripts), then npm rebuild applepay-verify\n' +
      '          (older npm: npm rebuild applepay-verify, without --ignore-scripts)\n' +
      '    pnpm: pnpm approve-builds (or "pnpm": {"onlyBuiltDependencies": ["applepay-verify"]} in package.json), then pnpm rebuild applepay-verify\n' +
      '    yarn: "dependenciesMeta": {"applepay-verify": {"built": true}} with enableScripts, then yarn rebuild\n' +
      '    bun:  bun pm trust applepay-verify (adds it to "trustedDependencies" and runs its script)',
  );
  lines.push(
    '- Building from source needs a C++17 compiler, make and Python 3: ' +
      'Debian/Ubuntu `apt-get install -y build-essential python3`; ' +
      'Alpine `apk add --no-cache build-base python3`; ' +
      'Fedora/RHEL `dnf install -y gcc-c++ make python3`; ' +
      'macOS `xcode-select --install`; ' +
      'Windows Visual Studio Build Tools with "Desktop development with C++", and Python 3.',
  );
  lines.push(
    '- A slim Docker image (node:*-slim) has no compiler. Two lines before `npm ci`:\n' +
      '    RUN apt-get update && apt-get install -y --no-install-recommends build-essential python3 \\\n' +
      '        && rm -rf /var/lib/apt/lists/*\n' +
      '  (Alpine: RUN apk add --no-cache build-base python3), or build in one stage and copy node_modules ' +
      'into the runtime image of the same distribution.',
  );
  if (Number(machine.napi) < NAPI_NEEDED || machine.napi === 'none') {
    lines.unshift(`- This Node offers N-API ${machine.napi}; the addon needs N-API ${NAPI_NEEDED} (Node 20.19 or later).`);
  }
  lines.push('See docs/install.md in the package for every platform with a prebuilt binary.');
  return lines;
}

/** Loads the addon from the package at root, or throws AddonLoadError. No caching. */
export function loadAddonFrom(root: string): unknown {
  const machine = describeMachine();
  const tried: AddonAttempt[] = [];
  const candidates: string[] = [];
  const built = join(root, 'build', 'Release', ADDON_FILE);
  if (existsSync(built)) candidates.push(built);
  else tried.push({ path: built, outcome: 'absent (node-gyp did not build it: install scripts skipped or no toolchain)' });
  candidates.push(...prebuildCandidates(join(root, 'prebuilds', `${machine.platform}-${machine.arch}`), machine, tried));
  for (const path of candidates) {
    try {
      return require(path);
    } catch (err) {
      tried.push({ path, outcome: `refused: ${firstLine(err)}` });
    }
  }
  const where = machineText(machine);
  const message = [
    `applepay-verify: the native addon could not be loaded on ${where}.`,
    'Tried:',
    ...tried.map((t) => `  ${t.path}: ${t.outcome}`),
    'To fix:',
    ...fixes(machine, tried, root),
  ].join('\n');
  throw new AddonLoadError(message, machine, tried);
}

const PACKAGE_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

let loaded: unknown = null;
let failure: AddonLoadError | null = null;
let testingPath: string | null = null;

/** The addon, loaded on the first call; a failure is kept and thrown again on every later call. */
export function loadAddon(): unknown {
  if (loaded !== null) return loaded;
  if (failure !== null) throw failure;
  try {
    loaded = testingPath === null ? loadAddonFrom(PACKAGE_ROOT) : require(testingPath);
  } catch (err) {
    if (err instanceof AddonLoadError) failure = err;
    throw err;
  }
  return loaded;
}

/**
 * Tests only (the sanitizer builds): load this file instead of the package's build. Must be called
 * before anything uses the addon. Not exported from the package's entry point; no production code calls it.
 */
export function useAddonForTesting(path: string): void {
  if (loaded !== null) throw new Error('useAddonForTesting: the addon is already loaded');
  testingPath = path;
}

/**
 * An object that stands for the addon and loads it on first property access, so that importing the
 * package (and the CLI's --help, --version and usage errors) never needs native code.
 */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- T is the binding's interface, named by the caller (lib/native/binding.ts)
export function lazyAddon<T extends object>(): T {
  const target = (): Record<PropertyKey, unknown> => loadAddon() as Record<PropertyKey, unknown>;
  return new Proxy({} as T, {
    get: (_t, key) => target()[key],
    has: (_t, key) => key in target(),
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor: (_t, key) => {
      const d = Reflect.getOwnPropertyDescriptor(target(), key);
      // The addon's exports are non-configurable; a Proxy may only report configurable ones it lacks.
      return d === undefined ? undefined : { ...d, configurable: true };
    },
  });
}

function machineText(machine: AddonPlatform): string {
  return [
    `platform ${machine.platform}`,
    `arch ${machine.arch}`,
    machine.libc === null ? null : `libc ${machine.libc}`,
    `Node ${machine.node} (ABI ${machine.abi}, N-API ${machine.napi})`,
  ]
    .filter((x) => x !== null)
    .join(', ');
}

/**
 * What the install script prints when no prebuild fits and node-gyp failed (package.json "install":
 * node-gyp-build || node dist/native/install-failed.js): node-gyp's own errors say what broke, this says
 * what the package needs.
 */
export function installFailureAdvice(): string {
  const machine = describeMachine();
  return [
    '',
    `applepay-verify: no prebuilt addon fits ${machineText(machine)},`,
    "and compiling one failed (node-gyp's output is above).",
    'To fix:',
    ...fixes(machine, [], PACKAGE_ROOT).filter((line) => !line.startsWith('- No prebuilt binary fits')),
    'Then run the install again, or: npm rebuild applepay-verify',
    '',
  ].join('\n');
}
