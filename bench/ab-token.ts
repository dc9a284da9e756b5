// node --import tsx bench/ab-token.ts <dir> [rounds]: the token reader of this tree against another build
// of the package (a checkout with its own dist/ and build/), step by step on the same 2,000 minted EC_v1
// tokens: parseToken, the strict JSON reader alone, each field's decoder, and the whole synchronous
// verification. Batches of each pair alternate in one process (the order flipped every round), so that
// machine load hits both alike; the ratio is the median of the per-round ratios.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createVerifier } from '../dist/index.js';
import { parseStrictJson } from '../dist/codec/json.js';
import { decodeBase64, decodeHex } from '../dist/codec/encoding.js';
import { DEFAULT_TOKEN_LIMITS, parseToken } from '../dist/steps/token.js';
import { loadTestPki, mintToken } from '../test-vectors/gen/token.js';

const other = process.argv[2];
if (other === undefined) throw new Error('usage: bench/ab-token.ts <directory of the other build> [rounds]');
const load = async <T>(path: string): Promise<T> => (await import(pathToFileURL(resolve(other, path)).href)) as T;
const them = {
  ...(await load<{ createVerifier: typeof createVerifier }>('dist/index.js')),
  ...(await load<{ parseStrictJson: typeof parseStrictJson }>('dist/codec/json.js')),
  ...(await load<{ decodeBase64: typeof decodeBase64; decodeHex: typeof decodeHex }>('dist/codec/encoding.js')),
  ...(await load<{ parseToken: typeof parseToken }>('dist/steps/token.js')),
};

const N = 2000;
const ROUNDS = Number(process.argv[3] ?? 41);
const BATCH = 200;
const pki = loadTestPki();
const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
const now = new Date(signingTime.getTime() + 1000);
const texts = Array.from({ length: N }, () => JSON.stringify(mintToken(pki, { version: 'EC_v1', signingTime }).paymentData));
interface Fields {
  signature: string;
  data: string;
  header: { ephemeralPublicKey: string; publicKeyHash: string; transactionId: string };
}
const fields = texts.map((t) => JSON.parse(t) as Fields);
const options = {
  rootCertificate: pki.root.certPem,
  merchants: [{ certificate: pki.merchants.ec.certPem, privateKey: readFileSync(pki.merchants.ec.keyPath) }],
};
const mine = { createVerifier, parseStrictJson, decodeBase64, decodeHex, parseToken };
type Impl = typeof mine;
const limits = { maxDepth: 8, maxEntries: 64 };
const verifiers = new Map<Impl, ReturnType<typeof createVerifier>>([
  [mine, mine.createVerifier(options)],
  [them, them.createVerifier(options)],
]);

// name -> (implementation, token index) -> work; and how many tokens one batch runs.
const steps: [string, (impl: Impl, i: number) => unknown, number][] = [
  ['whole sync verification', (impl, i) => verifiers.get(impl)!.verifyAndDecryptSync(texts[i]!, { now }), BATCH],
  ['parseToken', (impl, i) => impl.parseToken(texts[i]!, DEFAULT_TOKEN_LIMITS), N],
  ['strict JSON alone', (impl, i) => impl.parseStrictJson(texts[i]!, limits), N],
  ['base64 signature', (impl, i) => impl.decodeBase64(fields[i]!.signature), N],
  ['base64 data', (impl, i) => impl.decodeBase64(fields[i]!.data), N],
  ['base64 ephemeralPublicKey', (impl, i) => impl.decodeBase64(fields[i]!.header.ephemeralPublicKey), N],
  ['base64 publicKeyHash', (impl, i) => impl.decodeBase64(fields[i]!.header.publicKeyHash), N],
  ['hex transactionId', (impl, i) => impl.decodeHex(fields[i]!.header.transactionId), N],
];

// Warm-up: every step of both trees, optimised before any timing.
for (const [, run] of steps) {
  for (let i = 0; i < N; i++) {
    run(mine, i);
    run(them, i);
  }
}
const figures = new Map<string, { mine: number[]; them: number[]; ratio: number[] }>();
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, run, count] of steps) {
    const start = (r * BATCH) % (N - count + 1);
    const time = (impl: Impl): number => {
      const t0 = process.hrtime.bigint();
      for (let i = start; i < start + count; i++) run(impl, i);
      return Number(process.hrtime.bigint() - t0) / 1000 / count;
    };
    let a: number;
    let b: number;
    if (r % 2 === 0) {
      a = time(mine);
      b = time(them);
    } else {
      b = time(them);
      a = time(mine);
    }
    const f = figures.get(name) ?? { mine: [], them: [], ratio: [] };
    f.mine.push(a);
    f.them.push(b);
    f.ratio.push(a / b);
    figures.set(name, f);
  }
}
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
console.log('| step | this tree, us | other tree, us | this/other (median of paired rounds) |\n|---|---|---|---|');
for (const [name, f] of figures) {
  console.log(`| ${name} | ${median(f.mine).toFixed(2)} | ${median(f.them).toFixed(2)} | ${median(f.ratio).toFixed(3)} |`);
}
