// Run by bench.ts in a fresh process: how long the first token takes after createVerifier, with the
// warm-start work (intermediate pre-validated at construction) or without it ("cold").
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createVerifier } from '../dist/index.js';
import { loadTestPki, mintToken } from '../test-vectors/gen/token.js';

const [signingTimeArg, mode] = process.argv.slice(2);
const signingTime = new Date(signingTimeArg!);
const pki = loadTestPki();
const tokens = [0, 1].map(() => JSON.stringify(mintToken(pki, { version: 'EC_v1', signingTime }).paymentData));
const now = new Date(signingTime.getTime() + 1000);

let t = performance.now();
const verifier = createVerifier({
  rootCertificate: pki.root.certPem,
  merchants: { certificate: pki.merchants.ec.certPem, privateKey: readFileSync(pki.merchants.ec.keyPath) },
  intermediates: mode === 'warm' ? [pki.intermediate.certPem] : [],
});
const createVerifierMs = performance.now() - t;
t = performance.now();
verifier.verifyAndDecryptSync(tokens[0], { now });
const firstTokenMs = performance.now() - t;
t = performance.now();
verifier.verifyAndDecryptSync(tokens[1], { now });
const secondTokenMs = performance.now() - t;
const round = (x: number) => +x.toFixed(2);
console.log(
  JSON.stringify({ createVerifierMs: round(createVerifierMs), firstTokenMs: round(firstTokenMs), secondTokenMs: round(secondTokenMs) }),
);
