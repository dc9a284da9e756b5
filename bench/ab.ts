// npm run bench:ab -- <dir>: this tree against another build of the package (a checkout of an older
// commit with its own dist/ and build/), EC_v1 sync one at a time and async at 16 in flight, in
// interleaved rounds in one process, so that machine load hits both alike. Prints the ratios.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createVerifier as createThis, type Verifier } from '../dist/index.js';
import { loadTestPki, mintToken } from '../test-vectors/gen/token.js';

const other = process.argv[2];
if (other === undefined) throw new Error('usage: bench/ab.ts <directory of the other build>');
const { createVerifier: createOther } = (await import(pathToFileURL(resolve(other, 'dist/index.js')).href)) as {
  createVerifier: typeof createThis;
};

const pki = loadTestPki();
const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
const now = new Date(signingTime.getTime() + 1000);
const N = 2000;
const ROUNDS = Number(process.argv[3] ?? 9);
const ec = Array.from({ length: N }, () => JSON.stringify(mintToken(pki, { version: 'EC_v1', signingTime }).paymentData));
const rsa = Array.from({ length: N / 4 }, () => JSON.stringify(mintToken(pki, { version: 'RSA_v1', signingTime }).paymentData));
const options = {
  rootCertificate: pki.root.certPem,
  merchants: [
    { certificate: pki.merchants.ec.certPem, privateKey: readFileSync(pki.merchants.ec.keyPath) },
    { certificate: pki.merchants.rsa.certPem, privateKey: readFileSync(pki.merchants.rsa.keyPath) },
  ],
};
const verifiers: Record<'this' | 'other', Verifier> = { this: createThis(options), other: createOther(options) };

function sync(v: Verifier, tokens: string[]): number {
  const t = process.hrtime.bigint();
  for (const token of tokens) v.verifyAndDecryptSync(token, { now });
  return Number(process.hrtime.bigint() - t) / 1000 / tokens.length;
}
async function concurrent(v: Verifier, tokens: string[], c: number): Promise<number> {
  let next = 0;
  const t = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: c }, async () => {
      for (let i = next++; i < tokens.length; i = next++) await v.verifyAndDecrypt(tokens[i]!, { now });
    }),
  );
  return Number(process.hrtime.bigint() - t) / 1000 / tokens.length;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const figures: Record<string, Record<'this' | 'other', number[]>> = {};
const add = (name: string, who: 'this' | 'other', us: number) => (figures[name] ??= { this: [], other: [] })[who].push(us);
for (const who of ['this', 'other'] as const) {
  sync(verifiers[who], ec);
  await concurrent(verifiers[who], ec, 16);
}
for (let r = 0; r < ROUNDS; r++) {
  for (const who of r % 2 === 0 ? (['this', 'other'] as const) : (['other', 'this'] as const)) {
    const v = verifiers[who];
    add('EC_v1 sync', who, sync(v, ec));
    add('EC_v1 async c=1', who, await concurrent(v, ec.slice(0, N / 2), 1));
    add('EC_v1 async c=16', who, await concurrent(v, ec, 16));
    add('RSA_v1 sync', who, sync(v, rsa));
  }
}
for (const [name, f] of Object.entries(figures)) {
  const a = median(f.this);
  const b = median(f.other);
  console.log(
    `${name.padEnd(18)} this ${a.toFixed(1).padStart(7)} us  other ${b.toFixed(1).padStart(7)} us  this/other ${(a / b).toFixed(3)}`,
  );
}
