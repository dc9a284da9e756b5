// Child process of bench/bench.ts: what an unrelated `await null` costs before and after 1,000
// verifications (half async) by a verifier that does not track lastError(), and after one verification
// by a verifier that does. A process of its own, so that nothing else the bench does (minting thousands
// of tokens, other contenders) moves the figure. Prints one JSON line.
import { readFileSync } from 'node:fs';
import { executionAsyncId } from 'node:async_hooks';
import { createVerifier } from '../dist/index.js';
import { loadTestPki, mintToken } from '../test-vectors/gen/token.js';

// The fastest of 15 loops: other work on the machine only ever adds time.
async function cost(): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < 15; r++) {
    const n = 100_000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await null;
    best = Math.min(best, Number(process.hrtime.bigint() - start) / n);
  }
  return best;
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
for (let i = 0; i < 500; i++) verifier.verifyAndDecryptSync(tokens[i]!, { now });
for (let i = 500; i < 1000; i++) await verifier.verifyAndDecrypt(tokens[i]!, { now });
const after = await cost();
const hooksAfter = await hooksOn();
const tracking = createVerifier({ ...options, trackLastError: true });
await tracking.verifyAndDecrypt(tokens[0]!, { now });
const tracked = await cost();
console.log(JSON.stringify({ before, after, hooksAfter, tracked, hooksTracked: await hooksOn() }));
