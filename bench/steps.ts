// npm run bench:steps [-- --rsa]: where one EC_v1 (or RSA_v1) token's time goes, step by step, each step timed alone over the
// same tokens in interleaved rounds (the median per step). The steps run in the pipeline's order on
// inputs the previous step produced, so each figure is what that step costs inside a verification.
import { readFileSync } from 'node:fs';
import { createVerifier } from '../dist/index.js';
import { parseStrictJson } from '../dist/codec/json.js';
import { parseToken, DEFAULT_TOKEN_LIMITS, TOKEN_JSON_OPTIONS } from '../dist/steps/token.js';
import { parseSignedData } from '../dist/steps/signed-data.js';
import { ChainValidator } from '../dist/steps/chain.js';
import { checkSignerIsLeaf } from '../dist/steps/signer.js';
import { parsePayment } from '../dist/steps/payment.js';
import { parseCertificate } from '../dist/x509/certificates.js';
import { native } from '../dist/native/binding.js';
import { loadTestPki, mintToken } from '../test-vectors/gen/token.js';

const VERSION = process.argv.includes('--rsa') ? 'RSA_v1' : 'EC_v1';
const N = VERSION === 'EC_v1' ? 2000 : 1000;
const ROUNDS = 7;
const pki = loadTestPki();
const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
const now = new Date(signingTime.getTime() + 1000);
const texts = Array.from({ length: N }, () => JSON.stringify(mintToken(pki, { version: VERSION, signingTime }).paymentData));

const verifier = createVerifier({
  rootCertificate: pki.root.certPem,
  merchants: [
    { certificate: pki.merchants.ec.certPem, privateKey: readFileSync(pki.merchants.ec.keyPath) },
    { certificate: pki.merchants.rsa.certPem, privateKey: readFileSync(pki.merchants.rsa.keyPath) },
  ],
});
const chains = new ChainValidator(parseCertificate(pki.root.certDer));
const merchant = VERSION === 'EC_v1' ? pki.merchants.ec : pki.merchants.rsa;
const merchantKey = native.importKey(readFileSync(merchant.keyPath));
const partyV = VERSION === 'EC_v1' ? pki.merchants.ec.identifierHash : null;

const tokens = texts.map((t) => parseToken(t, DEFAULT_TOKEN_LIMITS));
const signed = tokens.map((t) => parseSignedData(t.signature, t.version));
const chainOf = signed.map((s, i) => chains.validate(s.certificates, tokens[i]!.version, s.signer.signingTime));
const nativeToken = (i: number): unknown => {
  const t = tokens[i]!;
  const { signer } = signed[i]!;
  return native.token(
    false,
    chainOf[i]!.signerKey!,
    signer.signedAttributes,
    signer.signature,
    merchantKey,
    t.headerKey,
    partyV,
    t.data,
    signer.messageDigest,
    t.transactionIdBytes,
    t.applicationDataBytes ?? null,
  );
};
const plaintexts = tokens.map((_, i) => nativeToken(i) as Buffer);
const payments = plaintexts.map((p) => Buffer.from(p));

const steps: Record<string, (i: number) => unknown> = {
  'JSON (strict parser)': (i) => parseStrictJson(texts[i]!, TOKEN_JSON_OPTIONS),
  'parseToken (JSON + base64/hex)': (i) => parseToken(texts[i]!, DEFAULT_TOKEN_LIMITS),
  'CMS (parseSignedData)': (i) => parseSignedData(tokens[i]!.signature, VERSION),
  'chain (cached)': (i) => chains.validate(signed[i]!.certificates, VERSION, signed[i]!.signer.signingTime),
  // The messageDigest is checked inside the native token operation; what is left in JavaScript is
  // the signer's issuerAndSerialNumber against the leaf.
  'signer (is the leaf)': (i) => checkSignerIsLeaf(signed[i]!.signer, chainOf[i]!),
  'native token operation (digest, signature, decryption)': nativeToken,
  'payment (parsePayment)': (i) => parsePayment(payments[i]!),
  'whole sync verification': (i) => verifier.verifyAndDecryptSync(texts[i]!, { now }),
};

const results: Record<string, number[]> = Object.fromEntries(Object.keys(steps).map((k) => [k, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of Object.entries(steps)) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) fn(i);
    results[name]!.push(Number(process.hrtime.bigint() - t0) / 1000 / N);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
let sum = 0;
console.log('| step | us/token (median of rounds) |\n|---|---|');
for (const [name, xs] of Object.entries(results)) {
  const m = median(xs);
  if (name !== 'whole sync verification' && name !== 'JSON (strict parser)') sum += m;
  console.log(`| ${name} | ${m.toFixed(1)} |`);
}
console.log(`| sum of the steps | ${sum.toFixed(1)} |`);
