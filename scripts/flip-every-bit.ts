// Flips every bit of a freshly minted token's CMS signature, one at a time, and verifies each
// result: the exhaustive version of the sampled property in test/adversarial/property.test.ts
// (about 17,000 verifications and 45 s per token, too slow for npm test).
//
//   npx tsx scripts/flip-every-bit.ts [EC_v1|RSA_v1] [null]     ("null": SHA-256 with NULL parameters)
//
// Prints the count of each verdict and exits non-zero if any flipped token was accepted or
// failed with something other than an ApplePayError.
import { mint, testVerifier } from '../test/support/helpers.js';
import { flipBit, verdictSync } from '../test/support/hardening.js';
const version = (process.argv[2] ?? 'EC_v1') as 'EC_v1' | 'RSA_v1';
const t = new Date(Math.floor(Date.now() / 1000) * 1000);
const now = new Date(t.getTime() + 1000);
const m = mint({ version, signingTime: t, cms: { digestParamsNull: process.argv[3] === 'null' } });
const v = testVerifier();
const der = m.signatureDer;
const counts = new Map<string, number>();
const accepted: number[] = [];
const start = Date.now();
for (let bit = 0; bit < der.length * 8; bit++) {
  const sig = flipBit(der, bit).toString('base64');
  const r = verdictSync(v, { ...m.paymentData, signature: sig }, now);
  const key = 'ok' in r ? (r.ok ? 'OK' : r.code) : `UNEXPECTED ${r.unexpected}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
  if ('ok' in r && r.ok) accepted.push(bit);
}
console.log(version, der.length, 'bytes', Date.now() - start, 'ms', Object.fromEntries(counts));
console.log(`accepted: ${accepted.length}`, accepted.map((b) => `byte ${b >> 3} bit ${b & 7}`).join(', '));
const unexpected = [...counts.keys()].filter((k) => k.startsWith('UNEXPECTED'));
if (accepted.length > 0 || unexpected.length > 0) process.exitCode = 1;
