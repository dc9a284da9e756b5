// Child process of bench/bench.ts: what an unrelated `await null` costs before and after 1,000
// verifications (half async) by a verifier that does not track lastError(), and after one verification
// by a verifier that does; with the argument `control`, before and after 1,000 requests' worth of
// work that never touches the package. A process of its own, so that nothing else the bench does (minting thousands
// of tokens, other contenders) moves the figure. Prints one JSON line.
import { readFileSync } from 'node:fs';
import { executionAsyncId } from 'node:async_hooks';
import { randomFill, verify as cryptoVerify } from 'node:crypto';
import { createVerifier } from '../dist/index.js';
import { loadTestPki, mintToken } from '../test-vectors/gen/token.js';

// What an `await null` costs, in ns and relative to a synchronous loop of similar work (an object
// allocated and read per step) timed right before it: machine load moves both alike, so the median of
// the per-round ratios shows what changed in the process, not on the machine.
let sink = 0;
function reference(n: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const o = { i, next: null as unknown };
    sink += o.i & 1;
  }
  return Number(process.hrtime.bigint() - start) / n;
}

async function cost(): Promise<{ ns: number; relative: number }> {
  const ns: number[] = [];
  const relative: number[] = [];
  for (let r = 0; r < 31; r++) {
    const n = 20_000;
    const ref = reference(n * 4);
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await null;
    const each = Number(process.hrtime.bigint() - start) / n;
    ns.push(each);
    relative.push(each / ref);
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  return { ns: median(ns), relative: median(relative) };
}

// With promise hooks on, an awaited continuation runs under an async id of its own; without, 0.
async function hooksOn(): Promise<boolean> {
  await null;
  return executionAsyncId() !== 0;
}

const pki = loadTestPki();
const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
const now = new Date(signingTime.getTime() + 1000);
const options = {
  rootCertificate: pki.root.certPem,
  merchants: [{ certificate: pki.merchants.ec.certPem, privateKey: readFileSync(pki.merchants.ec.keyPath) }],
};
const verifier = createVerifier(options);
const tokens = Array.from({ length: 1000 }, () => JSON.stringify(mintToken(pki, { version: 'EC_v1', signingTime }).paymentData));
await cost();
const before = await cost();
if (process.argv[2] === 'control') {
  // The control: work of the same shape that never touches the package (each token parsed, a
  // signature checked by node:crypto, half of them with a thread-pool round trip awaited), so that
  // what any 1,000 requests do to the process (heap, JIT state) cancels out of the comparison.
  const junk = Buffer.alloc(70);
  for (let i = 0; i < 500; i++) {
    JSON.parse(tokens[i]!);
    cryptoVerify('sha256', Buffer.from(tokens[i]!), pki.leafEc.publicKey, junk);
  }
  for (let i = 500; i < 1000; i++) {
    JSON.parse(tokens[i]!);
    await new Promise((resolve) => randomFill(Buffer.alloc(1), resolve));
  }
} else {
  for (let i = 0; i < 500; i++) verifier.verifyAndDecryptSync(tokens[i]!, { now });
  for (let i = 500; i < 1000; i++) await verifier.verifyAndDecrypt(tokens[i]!, { now });
}
const after = await cost();
const hooksAfter = await hooksOn();
const tracking = createVerifier({ ...options, trackLastError: true });
await tracking.verifyAndDecrypt(tokens[0]!, { now });
const tracked = await cost();
console.log(
  JSON.stringify({
    before: before.ns,
    after: after.ns,
    tracked: tracked.ns,
    ratio: after.relative / before.relative,
    trackedRatio: tracked.relative / before.relative,
    hooksAfter,
    hooksTracked: await hooksOn(),
    sink,
  }),
);
