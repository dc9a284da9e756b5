// Per-call cost of the addon alone (no signature or chain work), on the real tokens:
//   node native/bench.mjs [calls=2000]
// Prints the median and 90th percentile of single synchronous calls after a warm-up, and the
// throughput of the asynchronous variant with many calls in flight on libuv's pool.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const native = require('../build/Release/applepay_verify.node');
const calls = Number(process.argv[2] ?? 2000);
const real = new URL('../test-vectors/real/', import.meta.url);

function load(name) {
  const dir = new URL(`${name}/`, real);
  const token = JSON.parse(readFileSync(new URL('token.json', dir), 'utf8'));
  const meta = JSON.parse(readFileSync(new URL('meta.json', dir), 'utf8'));
  return { token, meta, pem: readFileSync(new URL('merchant_key.pem', dir)) };
}

function measure(label, fn, n = calls) {
  for (let i = 0; i < Math.min(200, n); i++) fn();
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    fn();
    times[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  times.sort();
  const at = (q) => times[Math.min(n - 1, Math.floor(q * n))].toFixed(1);
  console.log(`${label.padEnd(28)} median ${at(0.5).padStart(7)} us   p90 ${at(0.9).padStart(7)} us   (${n} calls)`);
}

async function throughput(label, fn, n = calls) {
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: n }, fn));
  const us = Number(process.hrtime.bigint() - start) / 1000;
  console.log(`${label.padEnd(28)} ${(us / n).toFixed(1).padStart(7)} us per call amortised (${n} in flight)`);
}

const ec = load('gala-seatgeek-2014');
const ecKey = native.importKey(ec.pem);
const eph = Buffer.from(ec.token.header.ephemeralPublicKey, 'base64');
const partyV = Buffer.from(ec.meta.merchantIdHashHex, 'hex');
const ecData = Buffer.from(ec.token.data, 'base64');
const rsa = load('basistheory-rsa-2024');
const rsaKey = native.importKey(rsa.pem);
const wrapped = Buffer.from(rsa.token.header.wrappedKey, 'base64');
const rsaData = Buffer.from(rsa.token.data, 'base64');
const z = native.ecdh(ecKey, eph);

console.log(`node ${process.version}, OpenSSL ${process.versions.openssl}`);
measure('decryptEC (sync)', () => native.decryptEC(ecKey, eph, partyV, ecData));
measure('  ecdh', () => native.ecdh(ecKey, eph));
measure('  kdf', () => native.kdf(z, partyV));
measure('decryptRSA (sync)', () => native.decryptRSA(rsaKey, wrapped, rsaData));
measure('importKey (PEM, EC)', () => native.importKey(ec.pem), 200);
await throughput('decryptECAsync', () => native.decryptECAsync(ecKey, eph, partyV, ecData));
await throughput('decryptRSAAsync', () => native.decryptRSAAsync(rsaKey, wrapped, rsaData));
