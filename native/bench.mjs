// Per-call cost of the addon alone (no chain or policy work), on the real tokens:
//   node native/bench.mjs [calls=2000] [rounds=5]
// Prints the median and 90th percentile of single synchronous calls after a warm-up, and the
// throughput of the asynchronous variants with many calls in flight on libuv's pool. The signature
// calls run in interleaved rounds next to node:crypto doing the same work, so that a noisy machine
// disturbs both sides alike; each line gives the best and the middle round's median.
import { createHash, createPublicKey, verify as nodeVerify, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const native = require('../build/Release/applepay_verify.node');
const calls = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 5);
const real = new URL('../test-vectors/real/', import.meta.url);

// Just enough BER to take a token's CMS signature apart: the signed attributes re-tagged as SET,
// the signature value and the leaf (the certificate with Apple's marker 1.2.840.113635.100.6.29).
function tlv(buf, pos) {
  const tag = buf[pos];
  let len = buf[pos + 1];
  if (len === 0x80) {
    let p = pos + 2;
    while (buf[p] !== 0 || buf[p + 1] !== 0) p = tlv(buf, p).end;
    return { tag, start: pos, body: pos + 2, bodyEnd: p, end: p + 2 };
  }
  let header = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + 2 + i];
    header += n;
  }
  return { tag, start: pos, body: pos + header, bodyEnd: pos + header + len, end: pos + header + len };
}
function kids(buf, node) {
  const out = [];
  for (let p = node.body; p < node.bodyEnd; p = out[out.length - 1].end) out.push(tlv(buf, p));
  return out;
}
function signerOf(signatureBase64) {
  const cms = Buffer.from(signatureBase64, 'base64');
  const fields = kids(cms, kids(cms, kids(cms, tlv(cms, 0))[1])[0]);
  const info = kids(cms, kids(cms, fields[fields.length - 1])[0]);
  const attrs = info.find((n) => n.tag === 0xa0);
  const value = info.find((n) => n.tag === 0x04);
  const message = Buffer.from(cms.subarray(attrs.start, attrs.end));
  message[0] = 0x31;
  const marker = Buffer.from('06092a864886f76364061d', 'hex');
  const leaf = kids(
    cms,
    fields.find((n) => n.tag === 0xa0),
  )
    .map((n) => cms.subarray(n.start, n.end))
    .find((der) => der.includes(marker));
  const spki = new X509Certificate(leaf).publicKey.export({ format: 'der', type: 'spki' });
  return { message, signature: Buffer.from(cms.subarray(value.body, value.bodyEnd)), spki };
}

function load(name) {
  const dir = new URL(`${name}/`, real);
  const token = JSON.parse(readFileSync(new URL('token.json', dir), 'utf8'));
  const meta = JSON.parse(readFileSync(new URL('meta.json', dir), 'utf8'));
  // token() checks the signer's messageDigest over the signed content: for these genuine tokens, the
  // digest of their own header key, data and transactionId.
  const headerKey = Buffer.from(token.header.ephemeralPublicKey ?? token.header.wrappedKey, 'base64');
  const transactionId = Buffer.from(token.header.transactionId, 'hex');
  const digest = createHash('sha256').update(headerKey).update(Buffer.from(token.data, 'base64')).update(transactionId).digest();
  return { token, meta, pem: readFileSync(new URL('merchant_key.TEST-KEY.pem', dir)), digest, transactionId, ...signerOf(token.signature) };
}

function median(fn, n) {
  for (let i = 0; i < Math.min(200, n); i++) fn();
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    fn();
    times[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  times.sort();
  return { median: times[Math.floor(n / 2)], p90: times[Math.min(n - 1, Math.floor(0.9 * n))] };
}

function measure(label, fn, n = calls) {
  const { median: m, p90 } = median(fn, n);
  console.log(`${label.padEnd(40)} median ${m.toFixed(1).padStart(7)} us   p90 ${p90.toFixed(1).padStart(7)} us   (${n} calls)`);
}

// Interleaved rounds: every case runs `calls` calls per round, rounds alternate between cases.
function compare(title, cases) {
  console.log(`\n${title} (${rounds} interleaved rounds of ${calls} calls; best / middle round median)`);
  for (const [label, fn] of cases) {
    if (fn() !== true && !Buffer.isBuffer(fn())) throw new Error(`${label} does not succeed`);
  }
  const medians = new Map(cases.map(([label]) => [label, []]));
  for (let r = 0; r < rounds; r++) for (const [label, fn] of cases) medians.get(label).push(median(fn, calls).median);
  for (const [label, ms] of medians) {
    ms.sort((a, b) => a - b);
    console.log(`  ${label.padEnd(46)} ${ms[0].toFixed(1).padStart(7)} us ${ms[Math.floor(ms.length / 2)].toFixed(1).padStart(7)} us`);
  }
}

async function throughput(label, fn, n = calls) {
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: n }, fn));
  const us = Number(process.hrtime.bigint() - start) / 1000;
  console.log(`${label.padEnd(48)} ${(us / n).toFixed(1).padStart(7)} us per call amortised (${n} in flight)`);
}

const ec = load('basistheory-ec-2023-03');
const ecKey = native.importKey(ec.pem);
const eph = Buffer.from(ec.token.header.ephemeralPublicKey, 'base64');
const partyV = Buffer.from(ec.meta.merchantIdHashHex, 'hex');
const ecData = Buffer.from(ec.token.data, 'base64');
const ecSigner = native.importPublicKey(ec.spki);
const ecKeyObject = createPublicKey({ key: ec.spki, format: 'der', type: 'spki' });
const rsa = load('basistheory-rsa-2024');
const rsaKey = native.importKey(rsa.pem);
const wrapped = Buffer.from(rsa.token.header.wrappedKey, 'base64');
const rsaData = Buffer.from(rsa.token.data, 'base64');
const rsaSigner = native.importPublicKey(rsa.spki);
const rsaKeyObject = createPublicKey({ key: rsa.spki, format: 'der', type: 'spki' });
const z = native.ecdh(ecKey, eph);

const ecToken = (pool) =>
  native.token(pool, ecSigner, ec.message, ec.signature, ecKey, eph, partyV, ecData, ec.digest, ec.transactionId, null);
const rsaToken = (pool) =>
  native.token(pool, rsaSigner, rsa.message, rsa.signature, rsaKey, wrapped, null, rsaData, rsa.digest, rsa.transactionId, null);

console.log(`node ${process.version}, OpenSSL ${process.versions.openssl}`);
measure('token EC_v1 (sync)', () => ecToken(false));
measure('  ecdh', () => native.ecdh(ecKey, eph));
measure('  kdf', () => native.kdf(z, partyV));
measure('token RSA_v1 (sync)', () => rsaToken(false));
measure('importKey (PEM, EC)', () => native.importKey(ec.pem), 200);
measure('importPublicKey (EC, with point check)', () => native.importPublicKey(ec.spki), 200);
measure('importPublicKey (RSA-2048)', () => native.importPublicKey(rsa.spki), 200);

compare('EC_v1: ECDSA P-256 / SHA-256 over the signed attributes', [
  ['node:crypto verify(sha256, msg, KeyObject, sig)', () => nodeVerify('sha256', ec.message, ecKeyObject, ec.signature)],
  ['verifySignature', () => native.verifySignature(ecSigner, ec.message, ec.signature)],
  [
    'verifySignature + ecdh (the OpenSSL limit)',
    () => native.verifySignature(ecSigner, ec.message, ec.signature) && native.ecdh(ecKey, eph),
  ],
  ['token (signature, then decryption)', () => ecToken(false)],
]);
compare('RSA_v1: RSA-2048 PKCS#1 v1.5 / SHA-256', [
  ['node:crypto verify(sha256, msg, KeyObject, sig)', () => nodeVerify('sha256', rsa.message, rsaKeyObject, rsa.signature)],
  ['verifySignature', () => native.verifySignature(rsaSigner, rsa.message, rsa.signature)],
  ['token (signature, then decryption)', () => rsaToken(false)],
]);

console.log('');
await throughput('token EC_v1 (pool)', () => ecToken(true));
await throughput('token RSA_v1 (pool)', () => rsaToken(true));
await throughput('token, signature only (pool)', () =>
  native.token(true, ecSigner, ec.message, ec.signature, null, eph, null, ecData, ec.digest, ec.transactionId, null),
);
