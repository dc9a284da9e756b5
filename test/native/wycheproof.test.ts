// Wycheproof vectors (test-vectors/wycheproof/, vendored) against the addon's primitives. Every
// vector is run and tallied by class; the tallies are printed and compared with fixed totals so
// that a group silently skipped (or a class silently changing outcome) fails the test.
import { createCipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { native, type MerchantKeyHandle } from '../../lib/native/binding.js';
import { loadRealToken } from './fixtures/native-cms.js';
import { tokenCalls } from './fixtures/native-compat.mjs';
import { Tally } from './fixtures/native-inputs.js';

// The token path through the addon's one entry point, behind a real token's verifying signature
// (see fixtures/native-compat.mjs).
const signerOf = (name: string) => {
  const t = loadRealToken(name);
  return { signer: native.importPublicKey(t.spki), message: t.message, signature: t.signature };
};
const calls = tokenCalls(native, { ec: signerOf('gala-seatgeek-2014'), rsa: signerOf('basistheory-rsa-2024') });

const DIR = fileURLToPath(new URL('../../test-vectors/wycheproof/', import.meta.url));
const hex = (s: string): Buffer => Buffer.from(s, 'hex');

interface Suite<G> {
  algorithm: string;
  numberOfTests: number;
  testGroups: G[];
}
interface BaseTest {
  tcId: number;
  comment: string;
  flags: string[];
  result: 'valid' | 'invalid' | 'acceptable';
}
const load = <G>(file: string): Suite<G> => JSON.parse(readFileSync(DIR + file, 'utf8')) as Suite<G>;

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'none';
  } catch (err) {
    return String((err as { code?: unknown }).code);
  }
}

// ---------------------------------------------------------------------------------------------
// AES-GCM. The token uses a 16-byte IV, so those vectors are the ones that matter; the rest run
// too because aesGcmDecrypt takes any IV from 1 to 128 bytes (OpenSSL 3.0's GCM limit). IVs of
// 0 bytes (invalid: CVE-2017-7822) and of 257 bytes (valid, but above OpenSSL's limit) are
// refused at the boundary with ERR_ARGUMENT, each counted in its own class.
interface AesGroup {
  ivSize: number;
  keySize: number;
  tagSize: number;
  tests: (BaseTest & { key: string; iv: string; aad: string; msg: string; ct: string; tag: string })[];
}

describe('Wycheproof aes_gcm_test.json', () => {
  const suite = load<AesGroup>('aes_gcm_test.json');

  it('runs every vector with the expected outcome', () => {
    const tally = new Tally();
    for (const group of suite.testGroups) {
      expect(group.tagSize).toBe(128);
      for (const t of group.tests) {
        const ivBytes = group.ivSize / 8;
        const run = (): Buffer => native.aesGcmDecrypt(hex(t.key), hex(t.iv), hex(t.aad), hex(t.ct), hex(t.tag));
        const ivClass = ivBytes === 16 ? 'iv16' : ivBytes === 0 ? 'iv0' : ivBytes > 128 ? 'iv>128' : 'iv-other';
        if (ivClass === 'iv0' || ivClass === 'iv>128') {
          expect(codeOf(run), `tcId ${t.tcId}`).toBe('ERR_ARGUMENT');
          tally.add(`${ivClass} ${t.result} -> ERR_ARGUMENT`);
        } else if (t.result === 'valid') {
          expect(run().equals(hex(t.msg)), `tcId ${t.tcId}`).toBe(true);
          tally.add(`${ivClass} valid -> plaintext`);
        } else {
          expect(t.result, `tcId ${t.tcId}`).toBe('invalid');
          expect(codeOf(run), `tcId ${t.tcId}`).toBe('ERR_DECRYPT');
          tally.add(`${ivClass} invalid -> ERR_DECRYPT`);
        }
      }
    }
    tally.print('aes_gcm_test.json');
    expect(tally.total()).toBe(suite.numberOfTests);
    expect(tally.counts).toEqual({
      'iv16 valid -> plaintext': 58,
      'iv-other valid -> plaintext': 168,
      'iv-other invalid -> ERR_DECRYPT': 81,
      'iv0 invalid -> ERR_ARGUMENT': 6,
      'iv>128 valid -> ERR_ARGUMENT': 3,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// ECDH P-256 with SubjectPublicKeyInfo public keys, i.e. exactly header.ephemeralPublicKey.
// Decisions for "acceptable", per flag (also in native/README.md):
//   CompressedPublic / CompressedPoint: rejected, ERR_EPHEMERAL_KEY. Apple's ephemeral key is
//     always uncompressed and the addon accepts one encoding only.
//   UnnamedCurve / UnusedParam (explicit curve parameters that happen to describe P-256, or carry
//     unused odd values): rejected, ERR_EPHEMERAL_KEY. Only the named-curve OID is accepted.
//   InvalidAsn (BER lengths, trailing or leading garbage, wrong tags, altered OIDs...): rejected,
//     ERR_EPHEMERAL_KEY: the input must be byte-for-byte the 91-byte DER. One of them (tcId 413)
//     is an empty byte string, which the boundary refuses first with ERR_ARGUMENT.
interface EcdhGroup {
  curve: string;
  encoding: string;
  tests: (BaseTest & { public: string; private: string; shared: string })[];
}

// SEC1 ECPrivateKey with the named curve and no public key: OpenSSL recomputes d*G.
function p256Key(privateHex: string, cache: Map<string, MerchantKeyHandle>): MerchantKeyHandle {
  const d = privateHex.replace(/^00(?=[0-9a-f]{64}$)/, '').padStart(64, '0');
  expect(d).toMatch(/^[0-9a-f]{64}$/);
  let key = cache.get(d);
  if (!key) {
    key = native.importKey(Buffer.concat([hex('30310201010420'), hex(d), hex('a00a06082a8648ce3d030107')]));
    cache.set(d, key);
  }
  return key;
}

describe('Wycheproof ecdh_secp256r1_test.json', () => {
  const suite = load<EcdhGroup>('ecdh_secp256r1_test.json');

  it('runs every vector with the expected outcome', () => {
    const tally = new Tally();
    const keys = new Map<string, MerchantKeyHandle>();
    for (const group of suite.testGroups) {
      expect(group.curve).toBe('secp256r1');
      expect(group.encoding).toBe('asn');
      for (const t of group.tests) {
        const key = p256Key(t.private, keys);
        const run = (): Buffer => native.ecdh(key, hex(t.public));
        if (t.result === 'valid') {
          expect(run().equals(hex(t.shared)), `tcId ${t.tcId}`).toBe(true);
          tally.add('valid -> shared secret');
        } else if (t.result === 'invalid') {
          expect(codeOf(run), `tcId ${t.tcId}`).toBe('ERR_EPHEMERAL_KEY');
          tally.add('invalid -> ERR_EPHEMERAL_KEY');
        } else {
          const expected = t.public.length === 0 ? 'ERR_ARGUMENT' : 'ERR_EPHEMERAL_KEY';
          expect(codeOf(run), `tcId ${t.tcId} ${t.flags.join(',')}`).toBe(expected);
          const family = t.flags.includes('CompressedPoint')
            ? 'compressed'
            : t.flags.includes('UnnamedCurve')
              ? 'explicit parameters'
              : t.flags.includes('InvalidAsn')
                ? 'InvalidAsn'
                : 'other';
          tally.add(`acceptable (${family}) -> ${expected}`);
        }
      }
    }
    tally.print('ecdh_secp256r1_test.json');
    expect(tally.total()).toBe(suite.numberOfTests);
    expect(tally.counts).toEqual({
      'valid -> shared secret': 330,
      'invalid -> ERR_EPHEMERAL_KEY': 52,
      'acceptable (compressed) -> ERR_EPHEMERAL_KEY': 1,
      'acceptable (explicit parameters) -> ERR_EPHEMERAL_KEY': 7,
      'acceptable (InvalidAsn) -> ERR_EPHEMERAL_KEY': 221,
      'acceptable (InvalidAsn) -> ERR_ARGUMENT': 1,
    });
  });

  it('the valid vectors also go through the whole EC_v1 path (ECDH -> KDF -> AES-GCM)', () => {
    // Encrypt under the KDF output of each expected shared secret with node:crypto, then let
    // decryptEC redo the ECDH from the private key: proves the token path uses the same ECDH.
    const keys = new Map<string, MerchantKeyHandle>();
    const partyV = Buffer.alloc(32, 0xab);
    let count = 0;
    for (const t of suite.testGroups[0]!.tests) {
      if (t.result !== 'valid') continue;
      const k = native.kdf(hex(t.shared), partyV);
      const cipher = createCipheriv('aes-256-gcm', k, Buffer.alloc(16));
      const msg = Buffer.from(`tcId ${t.tcId}`);
      const data = Buffer.concat([cipher.update(msg), cipher.final(), cipher.getAuthTag()]);
      expect(calls.decryptEC(p256Key(t.private, keys), hex(t.public), partyV, data).equals(msg)).toBe(true);
      count++;
    }
    expect(count).toBe(330);
  });
});

// ---------------------------------------------------------------------------------------------
// RSA-OAEP SHA-256 / MGF1-SHA-256, 2048 bits: the RSA_v1 unwrap. The private key is imported from
// the group's PEM. Every invalid vector is ERR_DECRYPT (padding and length failures alike), except
// the empty ciphertext, which the boundary refuses with ERR_ARGUMENT.
interface RsaGroup {
  keySize: number;
  sha: string;
  mgfSha: string;
  privateKeyPem: string;
  tests: (BaseTest & { msg: string; ct: string; label: string })[];
}

describe('Wycheproof rsa_oaep_2048_sha256_mgf1sha256_test.json', () => {
  const suite = load<RsaGroup>('rsa_oaep_2048_sha256_mgf1sha256_test.json');

  it('runs every vector with the expected outcome', () => {
    const tally = new Tally();
    for (const group of suite.testGroups) {
      expect([group.keySize, group.sha, group.mgfSha]).toEqual([2048, 'SHA-256', 'SHA-256']);
      const key = native.importKey(Buffer.from(group.privateKeyPem));
      expect([key.type, key.bits]).toEqual(['rsa', 2048]);
      for (const t of group.tests) {
        const run = (): Buffer => native.rsaOaepDecrypt(key, hex(t.ct), hex(t.label));
        const labelled = t.label.length > 0 ? 'with label' : 'empty label';
        if (t.result === 'valid') {
          expect(run().equals(hex(t.msg)), `tcId ${t.tcId}`).toBe(true);
          tally.add(`valid (${labelled}) -> plaintext`);
        } else {
          expect(t.result).toBe('invalid');
          const expected = t.ct.length === 0 ? 'ERR_ARGUMENT' : 'ERR_DECRYPT';
          expect(codeOf(run), `tcId ${t.tcId}`).toBe(expected);
          tally.add(`invalid (${t.flags.join(',')}) -> ${expected}`);
        }
      }
    }
    tally.print('rsa_oaep_2048_sha256_mgf1sha256_test.json');
    expect(tally.total()).toBe(suite.numberOfTests);
    expect(tally.counts).toEqual({
      'valid (empty label) -> plaintext': 10,
      'valid (with label) -> plaintext': 8,
      'invalid (InvalidOaepPadding) -> ERR_DECRYPT': 13,
      'invalid (InvalidCiphertext) -> ERR_DECRYPT': 5,
      'invalid (InvalidCiphertext) -> ERR_ARGUMENT': 1,
    });
  });
});
