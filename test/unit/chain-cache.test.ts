// The certificate-set cache must never change a verdict: validity is checked against every token's
// signing time, entries are keyed by exact DER bytes, and the cache stays within its bound.
import { describe, expect, test } from 'vitest';
import { ChainValidator } from '../../lib/steps/chain.js';
import { certificateDer, parseCertificate } from '../../lib/x509/certificates.js';
import { appleLeafSpec, issueCertificate } from '../../test-vectors/gen/pki.js';
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
