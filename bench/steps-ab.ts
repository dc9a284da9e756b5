// node --import tsx bench/steps-ab.ts <dir> [rounds]: the CMS, signer, native and payment steps and
// the whole sync verification of this tree against another build of the package (a checkout with its
// own dist/ and build/), on the same minted EC_v1 tokens, in alternating rounds in one process, so
// that machine load hits both alike. Prints the median per step and the ratio. A tree from before
// the messageDigest moved into the addon checks it in JavaScript (checkSigner) and calls token()
// without it; both shapes are handled.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadTestPki, mintToken } from '../test-vectors/gen/token.js';

const otherDir = process.argv[2];
if (otherDir === undefined) throw new Error('usage: bench/steps-ab.ts <directory of the other build> [rounds]');
const ROUNDS = Number(process.argv[3] ?? 15);
const N = 2000;

async function load(dir: string): Promise<Record<string, any>> {
  const at = (p: string) => import(pathToFileURL(resolve(dir, 'dist', p)).href) as Promise<Record<string, any>>;
  const [index, token, signedData, chain, signer, payment, binding, certs] = await Promise.all([
    at('index.js'),
    at('steps/token.js'),
    at('steps/signed-data.js'),
    at('steps/chain.js'),
    at('steps/signer.js'),
    at('steps/payment.js'),
    at('native/binding.js'),
    at('x509/certificates.js'),
  ]);
  return { ...index, ...token, ...signedData, ...chain, ...signer, ...payment, ...binding, ...certs };
}

const pki = loadTestPki();
const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
const now = new Date(signingTime.getTime() + 1000);
const texts = Array.from({ length: N }, () => JSON.stringify(mintToken(pki, { version: 'EC_v1', signingTime }).paymentData));
const keyPem = readFileSync(pki.merchants.ec.keyPath);
const partyV = pki.merchants.ec.identifierHash;

type Steps = Record<string, (i: number) => unknown>;

function prepare(m: Record<string, any>): Steps {
  const tokens = texts.map((t) => m.parseToken(t, m.DEFAULT_TOKEN_LIMITS));
  const signed = tokens.map((t) => m.parseSignedData(t.signature, 'EC_v1'));
  const chains = new m.ChainValidator(m.parseCertificate(pki.root.certDer));
  const chainOf = signed.map((s, i) => chains.validate(s.certificates, tokens[i].version, s.signer.signingTime));
  const key = m.native.importKey(keyPem);
  const digestInAddon = typeof m.checkSignerIsLeaf === 'function';
  const nativeToken = (i: number): unknown => {
    const t = tokens[i];
    const { signer } = signed[i];
    const signerKey = chainOf[i].signerKey;
    return digestInAddon
      ? m.native.token(
          false,
          signerKey,
          signer.signedAttributes,
          signer.signature,
          key,
          t.headerKey,
          partyV,
          t.data,
          signer.messageDigest,
          t.transactionIdBytes,
          null,
        )
      : m.native.token(false, signerKey, signer.signedAttributes, signer.signature, key, t.headerKey, partyV, t.data);
  };
  const plaintexts = tokens.map((_, i) => Buffer.from(nativeToken(i) as Buffer));
  const verifier = m.createVerifier({
    rootCertificate: pki.root.certPem,
    merchants: [{ certificate: pki.merchants.ec.certPem, privateKey: keyPem }],
  });
  return {
    'CMS (parseSignedData)': (i) => m.parseSignedData(tokens[i].signature, 'EC_v1'),
    'signer (JS part)': digestInAddon
      ? (i) => m.checkSignerIsLeaf(signed[i].signer, chainOf[i])
      : (i) => m.checkSigner(signed[i].signer, chainOf[i], m.signedContent(tokens[i])),
    'native token operation': nativeToken,
    'payment (parsePayment)': (i) => m.parsePayment(plaintexts[i]),
    'whole sync verification': (i) => verifier.verifyAndDecryptSync(texts[i], { now }),
  };
}

const trees = { this: prepare(await load(resolve(import.meta.dirname, '..'))), other: prepare(await load(otherDir)) };
const figures: Record<string, Record<'this' | 'other', number[]>> = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const name of Object.keys(trees.this)) {
    for (const who of r % 2 === 0 ? (['this', 'other'] as const) : (['other', 'this'] as const)) {
      const fn = trees[who][name]!;
      const t = process.hrtime.bigint();
      for (let i = 0; i < N; i++) fn(i);
      (figures[name] ??= { this: [], other: [] })[who].push(Number(process.hrtime.bigint() - t) / 1000 / N);
    }
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(`| step (EC_v1, ${N} tokens, ${ROUNDS} alternating rounds) | this us | other us | this/other |\n|---|---|---|---|`);
let sumThis = 0;
let sumOther = 0;
for (const [name, f] of Object.entries(figures)) {
  const a = median(f.this);
  const b = median(f.other);
  if (name !== 'whole sync verification') {
    sumThis += a;
    sumOther += b;
  }
  console.log(`| ${name} | ${a.toFixed(2)} | ${b.toFixed(2)} | ${(a / b).toFixed(3)} |`);
}
console.log(`| sum of the four steps | ${sumThis.toFixed(2)} | ${sumOther.toFixed(2)} | ${(sumThis / sumOther).toFixed(3)} |`);
