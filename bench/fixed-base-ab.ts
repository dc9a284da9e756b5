// npm run bench:fixed-base: what the fixed-base ECDSA table buys, A against B interleaved in one
// process (alternating rounds, medians), so a busy machine skews both sides alike:
//   1. one P-256 verification: EVP_PKEY_verify (verifySignatureEvp) against the dispatching
//      verifySignature on a key whose table is published, 20,000 verifications per round;
//   2. the whole native token operation (native.token, signature + ECDH + KDF + AES-GCM) on minted
//      EC_v1 tokens: the same signer certificate imported twice, one handle kept on EVP, the other
//      with its table.
import { readFileSync } from 'node:fs';
import { X509Certificate, generateKeyPairSync, sign } from 'node:crypto';
import { native, type SignerKeyHandle } from '../dist/native/binding.js';
import { parseToken, DEFAULT_TOKEN_LIMITS } from '../dist/steps/token.js';
import { parseSignedData } from '../dist/steps/signed-data.js';
import { loadTestPki, mintToken } from '../test-vectors/gen/token.js';

interface Hooks {
  verifySignatureEvp(key: SignerKeyHandle, message: Uint8Array, signature: Uint8Array): boolean;
  verifySignatureFixedBase(key: SignerKeyHandle, message: Uint8Array, signature: Uint8Array): boolean;
  fixedBaseState(key: SignerKeyHandle, keepOnEvp?: boolean): string | null;
}
const hooks = native as unknown as Hooks;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = (n: number, fn: (i: number) => unknown): number => {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
};

// 1. bare verification
{
  const V = 20_000;
  const ROUNDS = 7;
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = native.importPublicKey(publicKey.export({ type: 'spki', format: 'der' }));
  const messages = Array.from({ length: 2000 }, (_, i) => Buffer.from(`message ${i}`));
  const signatures = messages.map((m) => sign('sha256', m, privateKey));
  hooks.verifySignatureFixedBase(key, messages[0]!, signatures[0]!); // builds the table now
  if (hooks.fixedBaseState(key) !== 'ready') throw new Error('no table');
  const evp: number[] = [];
  const fixed: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    evp.push(time(V, (i) => hooks.verifySignatureEvp(key, messages[i % 2000]!, signatures[i % 2000]!)));
    fixed.push(time(V, (i) => native.verifySignature(key, messages[i % 2000]!, signatures[i % 2000]!)));
  }
  console.log(
    `P-256 verify (${ROUNDS} rounds x ${V}): EVP ${median(evp).toFixed(1)} us, fixed-base ${median(fixed).toFixed(1)} us, ratio ${(median(fixed) / median(evp)).toFixed(3)}`,
  );
}

// 2. the native token operation
{
  const N = 2000;
  const ROUNDS = 7;
  const pki = loadTestPki();
  const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
  const tokens = Array.from({ length: N }, () =>
    parseToken(JSON.stringify(mintToken(pki, { version: 'EC_v1', signingTime }).paymentData), DEFAULT_TOKEN_LIMITS),
  );
  const signed = tokens.map((t) => parseSignedData(t.signature, t.version));
  const leaf = signed[0]!.certificates.map((c) => new X509Certificate(c)).find((c) => !c.ca)!;
  const leafSpki = leaf.publicKey.export({ type: 'spki', format: 'der' });
  const evpSigner = native.importPublicKey(leafSpki);
  hooks.fixedBaseState(evpSigner, false);
  const fastSigner = native.importPublicKey(leafSpki);
  const merchantKey = native.importKey(readFileSync(pki.merchants.ec.keyPath));
  const partyV = pki.merchants.ec.identifierHash;
  const run = (signer: SignerKeyHandle) => (i: number) => {
    const t = tokens[i]!;
    const s = signed[i]!.signer;
    return native.token(false, signer, s.signedAttributes, s.signature, merchantKey, t.headerKey, partyV, t.data);
  };
  run(fastSigner)(0);
  hooks.verifySignatureFixedBase(fastSigner, Buffer.alloc(0), Buffer.alloc(8, 0x30));
  if (hooks.fixedBaseState(fastSigner) !== 'ready' || hooks.fixedBaseState(evpSigner) !== 'off') throw new Error('states');
  const before: number[] = [];
  const after: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    before.push(time(N, run(evpSigner)));
    after.push(time(N, run(fastSigner)));
  }
  console.log(
    `native.token EC_v1 (${ROUNDS} rounds x ${N}): EVP signer ${median(before).toFixed(1)} us, fixed-base signer ${median(after).toFixed(1)} us, ratio ${(median(after) / median(before)).toFixed(3)}`,
  );
}
