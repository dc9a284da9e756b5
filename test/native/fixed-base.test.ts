// The fixed-base ECDSA P-256 verifier (native/fixed_base.cc) against OpenSSL's EVP verification, in
// one process through the addon's test hooks: every Wycheproof vector and 20,000 random and mutated
// signatures (the CI slice of bench/fixed-base-proof.ts, which runs a million); the table appearing
// while pool jobs verify with the same key; and the same tokens giving the same verdicts before and
// after the table exists.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { native, type SignerKeyHandle } from '../../lib/native/binding.js';
import { createVerifier } from '../../lib/index.js';
import { parseToken, DEFAULT_TOKEN_LIMITS } from '../../lib/steps/token.js';
import { parseSignedData } from '../../lib/steps/signed-data.js';
import { ChainValidator } from '../../lib/steps/chain.js';
import { parseCertificate } from '../../lib/x509/certificates.js';
import { loadTestPki, mintToken } from '../../test-vectors/gen/token.js';
import { loadRealToken } from './fixtures/native-cms.js';
import { KINDS, genuine, mutate, proofKeys, prng } from './fixtures/fixed-base-cases.js';
import { createHash } from 'node:crypto';
import type { ParsedToken } from '../../lib/steps/token.js';
import type { SignerInfo } from '../../lib/steps/signed-data.js';

// token()'s signed-content arguments after `data` for a signature-only call (key null): some content
// and its own SHA-256, so that the digest check passes and the signature decides.
const ONLY_HEADER = Buffer.alloc(91, 1);
const ONLY_DATA = Buffer.alloc(17, 2);
const ONLY_ID = Buffer.alloc(32, 3);
const SIGNATURE_ONLY = [
  ONLY_HEADER,
  null,
  ONLY_DATA,
  createHash('sha256').update(ONLY_HEADER).update(ONLY_DATA).update(ONLY_ID).digest(),
  ONLY_ID,
  null,
] as const;

// The same arguments for a real token: its messageDigest and the transactionId/applicationData it covers.
const digestOf = (t: ParsedToken, s: SignerInfo) => [s.messageDigest, t.transactionIdBytes, t.applicationDataBytes ?? null] as const;

interface Hooks {
  verifySignatureEvp(key: SignerKeyHandle, message: Uint8Array, signature: Uint8Array): boolean;
  verifySignatureFixedBase(key: SignerKeyHandle, message: Uint8Array, signature: Uint8Array): boolean;
  fixedBaseState(key: SignerKeyHandle): 'none' | 'building' | 'ready' | null;
}
const hooks = native as unknown as Hooks;

const outcome = (fn: () => unknown): string => {
  try {
    const v = fn();
    return Buffer.isBuffer(v) ? `ok:${v.toString('hex')}` : String(v);
  } catch (err) {
    return String((err as { code?: unknown }).code ?? err);
  }
};
const asyncOutcome = async (p: Promise<unknown>): Promise<string> => {
  try {
    const v = await p;
    return Buffer.isBuffer(v) ? `ok:${v.toString('hex')}` : String(v);
  } catch (err) {
    return String((err as { code?: unknown }).code ?? err);
  }
};

/** Polls until the key's table is published (the build runs on its own thread). */
async function waitUntilReady(key: SignerKeyHandle, during: () => Promise<void> | void): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (hooks.fixedBaseState(key) !== 'ready') {
    if (Date.now() > deadline) throw new Error(`table never published: ${hooks.fixedBaseState(key)}`);
    await during();
    await sleep(1);
  }
}

describe('fixed-base verification agrees with OpenSSL', () => {
  it('every Wycheproof ecdsa_secp256r1_sha256 vector: the same verdict as EVP and as Wycheproof expects', () => {
    const suite = JSON.parse(
      readFileSync(fileURLToPath(new URL('../../test-vectors/wycheproof/ecdsa_secp256r1_sha256_test.json', import.meta.url)), 'utf8'),
    ) as {
      numberOfTests: number;
      testGroups: { publicKeyDer: string; tests: { tcId: number; msg: string; sig: string; result: string }[] }[];
    };
    const counts: Record<string, number> = {};
    for (const group of suite.testGroups) {
      const key = native.importPublicKey(Buffer.from(group.publicKeyDer, 'hex'));
      for (const t of group.tests) {
        const msg = Buffer.from(t.msg, 'hex');
        const sig = Buffer.from(t.sig, 'hex');
        const evp = outcome(() => hooks.verifySignatureEvp(key, msg, sig));
        const fast = outcome(() => hooks.verifySignatureFixedBase(key, msg, sig));
        expect(fast, `tcId ${t.tcId}`).toBe(evp);
        if (sig.length > 0 && t.result !== 'acceptable') expect(fast, `tcId ${t.tcId}`).toBe(String(t.result === 'valid'));
        counts[`${t.result} -> ${fast}`] = (counts[`${t.result} -> ${fast}`] ?? 0) + 1;
      }
      expect(hooks.fixedBaseState(key)).toBe('ready');
    }
    expect(counts).toEqual({ 'valid -> true': 174, 'invalid -> false': 309, 'invalid -> ERR_ARGUMENT': 1 });
  });

  it('20,000 random and mutated signatures, special keys (Q = G, 2G, 3G, -G, -2G) included: identical verdicts', () => {
    const rand = prng(0x5eed);
    const keys = proofKeys(3);
    const handles = keys.map((k) => native.importPublicKey(k.spki));
    const kinds = new Map<string, number>();
    let cases = 0;
    let accepted = 0;
    while (cases < 20_000) {
      const key = Math.floor(rand() * keys.length);
      const { message, signature } = genuine(keys, key, rand);
      for (const c of mutate(key, message, signature, 1 + KINDS, rand)) {
        const h = handles[c.key]!;
        const evp = outcome(() => hooks.verifySignatureEvp(h, c.message, c.signature));
        const fast = outcome(() => hooks.verifySignatureFixedBase(h, c.message, c.signature));
        if (fast !== evp) {
          expect.fail(
            `${keys[c.key]!.name} ${c.kind}: evp ${evp}, fixed-base ${fast}; msg ${c.message.toString('hex')} sig ${c.signature.toString('hex')}`,
          );
        }
        if (c.kind === 'genuine') expect(evp).toBe('true');
        if (evp === 'true') accepted++;
        const kind = c.kind.replace(/=.*/, '=value');
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        cases++;
      }
    }
    // Genuine and high-s/low-s twins verify; every other kind is refused by both paths.
    expect(accepted).toBe(2 * kinds.get('genuine')!);
    expect(kinds.size).toBe(1 + KINDS);
  }, 60_000);

  it('an RSA signer has no fixed-base state, and the forced path refuses it as an argument error', () => {
    const rsa = loadRealToken('basistheory-rsa-2024');
    const signer = native.importPublicKey(rsa.spki);
    expect(hooks.fixedBaseState(signer)).toBeNull();
    expect(outcome(() => hooks.verifySignatureFixedBase(signer, rsa.message, rsa.signature))).toBe('ERR_ARGUMENT');
    expect(native.verifySignature(signer, rsa.message, rsa.signature)).toBe(true);
  });
});

describe('the table in use', () => {
  it('is built only once the key is hot, off the calling thread, while pool jobs verify with the same key', async () => {
    const keys = proofKeys(1).slice(0, 1);
    const signer = native.importPublicKey(keys[0]!.spki);
    const rand = prng(7);
    const cases = Array.from({ length: 40 }, () => genuine(keys, 0, rand)).flatMap(({ message, signature }) =>
      mutate(0, message, signature, 4, rand),
    );
    const expected = cases.map((c) => (hooks.verifySignatureEvp(signer, c.message, c.signature) ? 'null' : 'ERR_SIGNATURE'));
    expect(expected.filter((e) => e === 'null').length).toBeGreaterThanOrEqual(80);
    expect(hooks.fixedBaseState(signer)).toBe('none'); // the forced-EVP hook does not count as use

    const round = async (): Promise<void> => {
      const pending = cases.map((c) => asyncOutcome(native.token(true, signer, c.message, c.signature, null, ...SIGNATURE_ONLY)));
      // Synchronous verifications on this thread at the same time.
      const sync = cases.map((c) => outcome(() => native.token(false, signer, c.message, c.signature, null, ...SIGNATURE_ONLY)));
      expect(sync).toEqual(expected);
      expect(await Promise.all(pending)).toEqual(expected);
    };
    // 160 verifications per round: the first round makes the key hot (64) and starts the build.
    await round();
    expect(['building', 'ready']).toContain(hooks.fixedBaseState(signer));
    await waitUntilReady(signer, round);
    await round();
    await round();
  }, 60_000);

  it('the same tokens give the same results before and after the table appears (whole pipeline and native op)', async () => {
    const pki = loadTestPki();
    const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
    const now = new Date(signingTime.getTime() + 1000);
    const texts = Array.from({ length: 24 }, () => JSON.stringify(mintToken(pki, { version: 'EC_v1', signingTime }).paymentData));
    const verifier = createVerifier({
      rootCertificate: pki.root.certPem,
      merchants: [{ certificate: pki.merchants.ec.certPem, privateKey: readFileSync(pki.merchants.ec.keyPath) }],
    });
    const chains = new ChainValidator(parseCertificate(pki.root.certDer));
    const merchantKey = native.importKey(readFileSync(pki.merchants.ec.keyPath));
    const partyV = pki.merchants.ec.identifierHash;
    const tokens = texts.map((t) => parseToken(t, DEFAULT_TOKEN_LIMITS));
    const signed = tokens.map((t) => parseSignedData(t.signature, t.version));
    const signer = chains.validate(signed[0]!.certificates, 'EC_v1', signed[0]!.signer.signingTime).signerKey!;
    const tampered = (sig: Buffer): Buffer => {
      const c = Buffer.from(sig);
      c[c.length - 1] = c[c.length - 1]! ^ 1;
      return c;
    };
    const nativeRun = (): string[] =>
      tokens.flatMap((t, i) => {
        const s = signed[i]!.signer;
        return [
          outcome(() =>
            native.token(false, signer, s.signedAttributes, s.signature, merchantKey, t.headerKey, partyV, t.data, ...digestOf(t, s)),
          ),
          outcome(() =>
            native.token(
              false,
              signer,
              s.signedAttributes,
              tampered(s.signature),
              merchantKey,
              t.headerKey,
              partyV,
              t.data,
              ...digestOf(t, s),
            ),
          ),
        ];
      });
    const pipelineRun = (): string[] =>
      texts.map((t) => {
        try {
          return JSON.stringify(verifier.verifyAndDecryptSync(t, { now }));
        } catch (err) {
          return String((err as { code?: unknown }).code);
        }
      });

    const before = nativeRun(); // 48 verifications: the key is not hot yet
    expect(hooks.fixedBaseState(signer)).toBe('none');
    expect(before.filter((o) => o.startsWith('ok:')).length).toBe(24);
    expect(before.filter((o) => o === 'ERR_SIGNATURE').length).toBe(24);
    const pipelineBefore = pipelineRun();
    expect(pipelineBefore.every((o) => o.startsWith('{'))).toBe(true);

    await waitUntilReady(signer, () => {
      expect(nativeRun()).toEqual(before);
    });
    expect(nativeRun()).toEqual(before);
    for (let i = 0; i < 4; i++) pipelineRun(); // the verifier's own signer key gets hot as well
    await sleep(50);
    expect(pipelineRun()).toEqual(pipelineBefore);
  }, 60_000);
});
