// pkijs's own SignedData.verify (checkChain on, signer 0, explicit date, the pinned root as the only
// trusted certificate) as an independent oracle: on tokens where both judge the same thing (signature
// and chain), it must agree with the pipeline's explicit checks.
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { describe, expect, test } from 'vitest';
import { APPLE_ROOT_CA_G3, createVerifier } from '../../lib/index.js';
import { certificateDer } from '../../lib/x509/certificates.js';
import { signedContent, parseToken, DEFAULT_TOKEN_LIMITS } from '../../lib/steps/token.js';
import { appleLeafSpec, issueCertificate } from '../../test-vectors/gen/pki.js';
import { REAL_SETS, loadRealSet, mint, pki, testVerifier } from '../support/helpers.js';

async function pkijsVerdict(paymentData: unknown, rootDer: Buffer, at: Date): Promise<boolean> {
  const token = parseToken(paymentData, DEFAULT_TOKEN_LIMITS);
  const asn1 = asn1js.fromBER(token.signature);
  const info = new pkijs.ContentInfo({ schema: asn1.result });
  const signed = new pkijs.SignedData({ schema: info.content });
  try {
    const result = await signed.verify({
      signer: 0,
      data: new Uint8Array(signedContent(token)).buffer,
      trustedCerts: [pkijs.Certificate.fromBER(rootDer)],
      checkChain: true,
      checkDate: at,
      extendedMode: true,
    });
    return result.signatureVerified === true;
  } catch {
    return false;
  }
}

async function ourVerdict(verify: () => Promise<unknown>): Promise<boolean> {
  try {
    await verify();
    return true;
  } catch {
    return false;
  }
}

describe('pkijs agrees with the pipeline', () => {
  test.each(REAL_SETS)('real token %s', async (name) => {
    const set = loadRealSet(name);
    const at = new Date(set.signingTime.getTime() + 1000);
    const verifier = createVerifier({ merchants: { certificate: set.certificate, privateKey: set.privateKey } });
    const ours = await ourVerdict(() => verifier.verifyAndDecrypt(set.token, { now: at }));
    const theirs = await pkijsVerdict(set.token, certificateDer(APPLE_ROOT_CA_G3)!, at);
    expect(ours).toBe(theirs);
    // Apple's production tokens pass; the test-CA token fails both (it does not chain to G3).
    expect(ours).toBe(name !== 'apple-sample-testca-2016-emv');
  });

  test('minted tokens: valid, tampered, leaf from another CA, expired leaf', async () => {
    const p = pki();
    const verifier = testVerifier();
    const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
    const now = new Date(signingTime.getTime() + 1000);
    const forgedLeaf = issueCertificate(appleLeafSpec({ kind: 'EC', key: p.leafEc.key, issuerKey: p.wwdr.key }));
    const expiredLeaf = issueCertificate(
      appleLeafSpec({ kind: 'EC', key: p.leafEc.key, issuerKey: p.intermediate.key, notAfter: new Date(signingTime.getTime() - 1000) }),
    );
    const cases = [
      mint({ version: 'EC_v1', signingTime }).paymentData,
      mint({ version: 'RSA_v1', signingTime }).paymentData,
      mint({ version: 'EC_v1', signingTime, cms: { messageDigestOverride: Buffer.alloc(32) } }).paymentData,
      mint({ version: 'EC_v1', signingTime, signer: { certDer: forgedLeaf, key: p.leafEc.key } }).paymentData,
      mint({ version: 'EC_v1', signingTime, signer: { certDer: expiredLeaf, key: p.leafEc.key } }).paymentData,
      mint({ version: 'EC_v1', signingTime, signer: { certDer: p.leafEc.certDer, key: p.merchants.ec.key } }).paymentData,
    ];
    const verdicts = [];
    for (const token of cases) {
      const ours = await ourVerdict(() => verifier.verifyAndDecrypt(token, { now }));
      const theirs = await pkijsVerdict(token, p.root.certDer, signingTime);
      expect(ours).toBe(theirs);
      verdicts.push(ours);
    }
    expect(verdicts).toEqual([true, true, false, false, false, false]);
  });
});
