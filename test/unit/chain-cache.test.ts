// The certificate-set cache must never change a verdict: validity is checked against every token's
// signing time, entries are keyed by exact DER bytes, and the cache stays within its bound.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { ChainValidator } from '../../lib/steps/chain.js';
import { certificateDer, parseCertificate } from '../../lib/x509/certificates.js';
import { appleLeafSpec, issueCertificate, spkiDer } from '../../test-vectors/gen/pki.js';
import { mint, pki, testVerifier } from '../support/helpers.js';

describe('chain cache', () => {
  const p = pki();

  test("a cached chain is still rejected when the signing time falls outside a certificate's validity", async () => {
    const verifier = testVerifier();
    await expect(verifier.verifyAndDecrypt(mint({ version: 'EC_v1' }).paymentData)).resolves.toBeDefined();
    const early = new Date('2023-06-01T00:00:00Z');
    await expect(
      verifier.verifyAndDecrypt(mint({ version: 'EC_v1', signingTime: early }).paymentData, { now: early }),
    ).rejects.toMatchObject({
      code: 'CERT_EXPIRED',
      details: { certificate: 'leaf' },
    });
    const late = new Date('2034-01-01T00:00:01Z');
    await expect(verifier.verifyAndDecrypt(mint({ version: 'EC_v1', signingTime: late }).paymentData, { now: late })).rejects.toMatchObject(
      {
        code: 'CERT_EXPIRED',
      },
    );
  });

  test('a different certificate with the same subject and serial is not served from the cache', async () => {
    const verifier = testVerifier();
    const genuine = mint({ version: 'EC_v1' }).paymentData;
    // Same subject, issuer name, serial and key as the genuine leaf; signed by the WWDR key instead.
    const forgedLeaf = issueCertificate(appleLeafSpec({ kind: 'EC', key: p.leafEc.key, issuerKey: p.wwdr.key }));
    expect(parseCertificate(forgedLeaf).serialNumber).toEqual(parseCertificate(p.leafEc.certDer).serialNumber);
    const forged = mint({ version: 'EC_v1', signer: { certDer: forgedLeaf, key: p.leafEc.key } }).paymentData;
    await expect(verifier.verifyAndDecrypt(genuine)).resolves.toBeDefined();
    await expect(verifier.verifyAndDecrypt(forged)).rejects.toMatchObject({ code: 'CHAIN_UNTRUSTED' });
    // And the other way round: a cached rejection does not spill onto the genuine chain.
    const fresh = testVerifier();
    await expect(fresh.verifyAndDecrypt(forged)).rejects.toMatchObject({ code: 'CHAIN_UNTRUSTED' });
    await expect(fresh.verifyAndDecrypt(mint({ version: 'EC_v1' }).paymentData)).resolves.toBeDefined();
  });

  test('a parsed certificate owns its bytes: overwriting the buffer it was read from changes none of its fields', () => {
    const input = Buffer.from(p.leafEc.certDer);
    const cert = parseCertificate(input);
    const fields = () =>
      [cert.der, cert.tbs, cert.spki, cert.signatureValue, cert.serialNumber, cert.subject, cert.issuer, ...cert.extensions.values()].map(
        (b) => Buffer.from(b).toString('hex'),
      );
    const before = fields();
    input.fill(0);
    expect(fields()).toEqual(before);
    expect(cert.der.equals(p.leafEc.certDer)).toBe(true);
    expect(cert.fingerprint).toBe(createHash('sha256').update(p.leafEc.certDer).digest('hex').toUpperCase());
  });

  test('stays within its bound under many distinct chains, and keeps judging them correctly', () => {
    const root = parseCertificate(certificateDer(p.root.certPem)!);
    const chains = new ChainValidator(root, 8);
    const at = new Date('2025-01-01T00:00:00Z');
    for (let i = 0; i < 40; i++) {
      const leaf = issueCertificate(
        appleLeafSpec({ kind: 'EC', key: p.leafEc.key, issuerKey: p.intermediate.key, serial: BigInt(1000 + i) }),
      );
      const chain = chains.validate([leaf, p.intermediate.certDer], 'EC_v1', at);
      expect(chain.leaf.serialNumber.readUInt16BE(chain.leaf.serialNumber.length - 2)).toBe(1000 + i);
      expect(chains.cacheSize).toBeLessThanOrEqual(8);
    }
    expect(chains.cacheSize).toBe(8);
  });
});

describe('chain cache admission', () => {
  const p = pki();
  const root = parseCertificate(certificateDer(p.root.certPem)!);
  const at = new Date('2025-01-01T00:00:00Z');
  const leaves = Array.from({ length: 30 }, (_, i) =>
    issueCertificate(appleLeafSpec({ kind: 'EC', key: p.leafEc.key, issuerKey: p.intermediate.key, serial: BigInt(2000 + i) })),
  );
  const judge = (chains: ChainValidator, leaf: Buffer): void => {
    const chain = chains.validate([leaf, p.intermediate.certDer], 'EC_v1', at);
    expect(chain.leaf.der.equals(leaf)).toBe(true);
  };

  test('more sets than the cache holds, in rotation: part of them stays cached instead of none (plain LRU)', () => {
    const chains = new ChainValidator(root, 8);
    for (let round = 0; round < 6; round++) for (const leaf of leaves.slice(0, 20)) judge(chains, leaf);
    const { hits, misses } = chains.cacheStats;
    expect(hits + misses).toBe(120);
    // 8 of 20 sets cached from the second round on: 40 of the 100 later lookups hit.
    expect(hits).toBeGreaterThanOrEqual(30);
    expect(chains.cacheSize).toBe(8);
  });

  test('a flood of sets seen once does not evict the sets in steady use', () => {
    const chains = new ChainValidator(root, 8);
    const steady = leaves.slice(0, 4);
    for (let i = 0; i < 3; i++) for (const leaf of steady) judge(chains, leaf);
    const flood = leaves.slice(4);
    // Six one-off sets between two rounds of the steady ones: more than the four free places.
    for (let i = 0; i + 6 <= flood.length; i += 6) {
      for (const leaf of flood.slice(i, i + 6)) judge(chains, leaf);
      for (const s of steady) judge(chains, s);
    }
    // Every steady lookup after the first round was a hit; every flooded set was a miss.
    expect(chains.cacheStats).toEqual({ hits: 8 + 4 * 4, misses: 4 + 24 });
  });

  test('a set that keeps coming is admitted into a full cache, and stale sets give way over time', () => {
    const chains = new ChainValidator(root, 4);
    const old = leaves.slice(0, 4);
    for (let i = 0; i < 200; i++) for (const leaf of old) judge(chains, leaf);
    const fresh = leaves.slice(10, 14);
    // Only the fresh sets from now on: halving the old sets' counts lets them in.
    for (let i = 0; i < 100; i++) for (const leaf of fresh) judge(chains, leaf);
    const before = chains.cacheStats;
    for (const leaf of fresh) judge(chains, leaf);
    const after = chains.cacheStats;
    expect(after.hits - before.hits).toBe(4);
    expect(after.misses).toBe(before.misses);
  });

  test("a renewed leaf with the same key reuses the key's handle; another key gets its own; both stay bounded", () => {
    const chains = new ChainValidator(root, 4);
    const first = chains.validate([leaves[0]!, p.intermediate.certDer], 'EC_v1', at);
    const renewed = chains.validate([leaves[1]!, p.intermediate.certDer], 'EC_v1', at);
    expect(renewed.leaf.der.equals(first.leaf.der)).toBe(false);
    expect(renewed.signerKey).toBe(first.signerKey);
    const otherKeys = Array.from({ length: 6 }, () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const handles = otherKeys.map((key, i) => {
      const leaf = issueCertificate(appleLeafSpec({ kind: 'EC', key, issuerKey: p.intermediate.key, serial: BigInt(3000 + i) }));
      const chain = chains.validate([leaf, p.intermediate.certDer], 'EC_v1', at);
      expect(chain.leaf.spki.equals(spkiDer(key))).toBe(true);
      expect(chains.leafKeyCount).toBeLessThanOrEqual(4);
      return chain.signerKey;
    });
    expect(new Set([first.signerKey, ...handles]).size).toBe(7);
  });
});
