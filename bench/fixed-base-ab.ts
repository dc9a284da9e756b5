// npm run bench:fixed-base: what the fixed-base ECDSA table buys, A against B interleaved in one
// process in short alternating rounds (A B B A ...), so a busy machine skews both sides alike; the
// figures are the medians of the rounds and the median of the per-round ratios B / A:
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

/** `rounds` rounds of `n` calls of each side, the order alternating; [median A, median B, median B/A]. */
function ab(rounds: number, n: number, a: (i: number) => unknown, b: (i: number) => unknown): [number, number, number] {
  const ta: number[] = [];
  const tb: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let x: number;
    let y: number;
    if (r % 2 === 0) {
      x = time(n, a);
      y = time(n, b);
    } else {
      y = time(n, b);
      x = time(n, a);
    }
    ta.push(x);
    tb.push(y);
    ratios.push(y / x);
  }
  return [median(ta), median(tb), median(ratios)];
}
const fmt = (x: number): string => x.toFixed(1);

// 1. bare verification
{
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = native.importPublicKey(publicKey.export({ type: 'spki', format: 'der' }));
  const messages = Array.from({ length: 2000 }, (_, i) => Buffer.from(`message ${i}`));
  const signatures = messages.map((m) => sign('sha256', m, privateKey));
  hooks.verifySignatureFixedBase(key, messages[0]!, signatures[0]!); // builds the table now
  if (hooks.fixedBaseState(key) !== 'ready') throw new Error('no table');
  const [evp, fixed, ratio] = ab(
    40,
    500,
    (i) => hooks.verifySignatureEvp(key, messages[i % 2000]!, signatures[i % 2000]!),
    (i) => native.verifySignature(key, messages[i % 2000]!, signatures[i % 2000]!),
  );
  console.log(`P-256 verify (40 rounds x 500 each): EVP ${fmt(evp)} us, fixed-base ${fmt(fixed)} us, ratio ${ratio.toFixed(3)}`);
}

// 2. the native token operation
{
  const N = 2000;
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
  const run = (signer: SignerKeyHandle) => (j: number) => {
    const i = j % N;
    const t = tokens[i]!;
    const s = signed[i]!.signer;
    return native.token(
      false,
      signer,
      s.signedAttributes,
      s.signature,
      merchantKey,
      t.headerKey,
      partyV,
      t.data,
      s.messageDigest,
      t.transactionIdBytes,
      t.applicationDataBytes ?? null,
    );
  };
  run(fastSigner)(0);
  hooks.verifySignatureFixedBase(fastSigner, Buffer.alloc(0), Buffer.alloc(8, 0x30));
  if (hooks.fixedBaseState(fastSigner) !== 'ready' || hooks.fixedBaseState(evpSigner) !== 'off') throw new Error('states');
  const [before, after, ratio] = ab(40, 250, run(evpSigner), run(fastSigner));
  // The signature phase inside the token operation, as the addon times it (phases[0]), tokens
  // alternating between the two signers.
  const phases = new Float64Array(2);
  const phase: [number[], number[]] = [[], []];
  for (let j = 0; j < 4 * N; j++) {
    const side = j % 2;
    const i = (j >> 1) % N;
    const s = signed[i]!.signer;
    const t = tokens[i]!;
    native.token(
      false,
      side === 0 ? evpSigner : fastSigner,
      s.signedAttributes,
      s.signature,
      merchantKey,
      t.headerKey,
      partyV,
      t.data,
      s.messageDigest,
      t.transactionIdBytes,
      t.applicationDataBytes ?? null,
      phases,
    );
    (side === 0 ? phase[0] : phase[1]).push(phases[0]!);
  }
  console.log(
    `signature phase inside native.token (${2 * N} tokens each, alternating): EVP ${fmt(median(phase[0]))} us, fixed-base ${fmt(median(phase[1]))} us, ratio ${(median(phase[1]) / median(phase[0])).toFixed(3)}`,
  );
  console.log(
    `native.token EC_v1 (40 rounds x 250 tokens each): EVP signer ${fmt(before)} us, fixed-base signer ${fmt(after)} us, ratio ${ratio.toFixed(3)}`,
  );
}
