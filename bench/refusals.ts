// npm run bench:refusals: how long each hostile input takes to be refused (the inputs of
// test/adversarial/bounds.test.ts), next to one valid verification for scale. Target: a few
// milliseconds each, i.e. refused before any expensive parsing or public-key work.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createVerifier, isApplePayError, type Verifier } from '../dist/index.js';
import { loadTestPki, mintToken } from '../test-vectors/gen/token.js';
import { hostileInputs } from '../test/support/hostile-inputs.js';

const RUNS = 21;
const WARMUP = 3;
const TARGET_MS = 5;

const pki = loadTestPki();
function verifier(maxTokenBytes?: number): Verifier {
  return createVerifier({
    rootCertificate: pki.root.certPem,
    merchants: [{ certificate: pki.merchants.ec.certPem, privateKey: readFileSync(pki.merchants.ec.keyPath) }],
    ...(maxTokenBytes === undefined ? {} : { maxTokenBytes }),
  });
}

const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
const now = new Date(signingTime.getTime() + 1000);
const base = mintToken(pki, { version: 'EC_v1', signingTime }).paymentData;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function time(v: Verifier, inputs: unknown[], expectOk: boolean): { times: number[]; code: string } {
  const times: number[] = [];
  let code = '';
  inputs.forEach((input, i) => {
    const t = performance.now();
    try {
      v.verifyAndDecryptSync(input, { now });
      code = 'OK';
    } catch (err) {
      code = isApplePayError(err) ? err.code : `unexpected ${String(err)}`;
    }
    if (i >= WARMUP) times.push(performance.now() - t);
  });
  if ((code === 'OK') !== expectOk) throw new Error(`unexpected outcome ${code}`);
  return { times, code };
}

const rows: string[][] = [['input', 'code', 'median ms', 'max ms', `target < ${TARGET_MS} ms`]];
const fmt = (ms: number) => ms.toFixed(3);
{
  const { times, code } = time(
    verifier(),
    Array.from({ length: RUNS + WARMUP }, () => base),
    true,
  );
  rows.push(['(for scale) one valid EC_v1 token, decrypted', code, fmt(median(times)), fmt(Math.max(...times)), '']);
}
let misses = 0;
for (const c of hostileInputs(pki, base)) {
  // Built outside the timed region; `i` varies the inputs a cache would otherwise answer.
  const inputs = Array.from({ length: RUNS + WARMUP }, (_, i) => c.build(i));
  const { times, code } = time(verifier(c.maxTokenBytes), inputs, false);
  if (code !== c.code) throw new Error(`${c.name}: ${code}, expected ${c.code}`);
  const m = median(times);
  if (m >= TARGET_MS) misses++;
  rows.push([c.name, code, fmt(m), fmt(Math.max(...times)), m < TARGET_MS ? 'PASS' : 'MISS']);
}

const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((cell, i) => (i >= 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  '));
console.log(`\n${RUNS} timed runs per input after ${WARMUP} warm-up runs; node ${process.version}.`);
if (misses > 0) console.log(`${misses} input(s) above the target`);
