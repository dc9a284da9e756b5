// lib/steps/signed-data.ts on its own: the detached SignedData of Apple's profile (docs/token-format.md#signed-data)
// is read into its certificates and its one signer, and each way out of the profile is refused.
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { parseSignedData } from '../../lib/steps/signed-data.js';
import { mint, pki } from '../support/helpers.js';
import { expectCode } from '../support/expect-code.js';
import { childrenOf, contentOf, encodingOf, tlvAt, type Tlv } from '../support/ber.js';
import { tlv } from '../../lib/testing/der.js';

// The encoding with `extra` appended inside the element at `path` (child indices from the root), every
// enclosing element re-encoded with a definite length.
function appendInside(der: Buffer, path: readonly number[], extra: Buffer): Buffer {
  const rebuild = (node: Tlv, rest: readonly number[]): Buffer => {
    if (rest.length === 0) return tlv(node.tag, Buffer.concat([contentOf(der, node), extra]));
    const parts = childrenOf(der, node).map((child, i) => (i === rest[0] ? rebuild(child, rest.slice(1)) : encodingOf(der, child)));
    return tlv(node.tag, parts);
  };
  return rebuild(tlvAt(der, 0), path);
}

const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

describe('parseSignedData', () => {
  for (const version of ['EC_v1', 'RSA_v1'] as const) {
    test(`${version}: certificates in token order, the signer's digest, time, attributes and signature`, () => {
      const signingTime = new Date('2026-01-02T03:04:05Z');
      const token = mint({ version, signingTime });
      const signed = parseSignedData(token.signatureDer, version);
      const leaf = version === 'EC_v1' ? pki().leafEc : pki().leafRsa;
      expect(signed.certificates).toEqual([leaf.certDer, pki().intermediate.certDer]);
      expect(signed.signer.messageDigest).toEqual(sha256(token.signedContent));
      expect(signed.signer.signingTime.toISOString()).toBe(signingTime.toISOString());
      // The bytes the signature covers: the signed attributes re-tagged as SET OF.
      expect(signed.signer.signedAttributes[0]).toBe(0x31);
      expect(token.signatureDer.includes(signed.signer.signedAttributes.subarray(1))).toBe(true);
      expect(signed.signer.signature.length).toBeGreaterThan(0);
      expect(token.signatureDer.includes(signed.signer.signature)).toBe(true);
      expect(leaf.x509.checkIssued(pki().intermediate.x509)).toBe(true);
    });
  }

  test('SHA-256 with and without the NULL parameter, definite and indefinite lengths', () => {
    for (const digestParamsNull of [true, false]) {
      for (const indefiniteLength of [true, false]) {
        const token = mint({ version: 'EC_v1', cms: { digestParamsNull, indefiniteLength } });
        expect(parseSignedData(token.signatureDer, 'EC_v1').signer.messageDigest).toEqual(sha256(token.signedContent));
      }
    }
  });

  test('leaves out of the profile: SIGNATURE_MALFORMED', () => {
    const cases = [
      { attachContent: Buffer.from('forged data') },
      { extraSigners: 1 },
      { includeCrls: true },
      { signedDataVersion: 3 },
      { signerInfoVersion: 3 },
      { omitSignedAttributes: true },
      { omitMessageDigest: true },
      { omitContentTypeAttr: true },
    ];
    for (const cms of cases) {
      expect(() => parseSignedData(mint({ version: 'EC_v1', cms }).signatureDer, 'EC_v1'), JSON.stringify(Object.keys(cms))).toThrow(
        expect.objectContaining({ code: 'SIGNATURE_MALFORMED' }),
      );
    }
  });

  test('bytes that are no CMS at all, or are cut short: SIGNATURE_MALFORMED, never another exception', () => {
    const der = mint({ version: 'RSA_v1' }).signatureDer;
    for (const bytes of [Buffer.alloc(0), Buffer.from('3000', 'hex'), Buffer.from('not der'), der.subarray(0, der.length >> 1)]) {
      expectCode(() => parseSignedData(bytes, 'RSA_v1'), 'SIGNATURE_MALFORMED');
    }
  });

  test('a missing signingTime is its own code', () => {
    expectCode(() => parseSignedData(mint({ version: 'EC_v1', signingTime: null }).signatureDer, 'EC_v1'), 'SIGNING_TIME_MISSING');
  });

  test('a field after signerInfos, and unsigned attributes in the SignerInfo, are refused', () => {
    for (const version of ['EC_v1', 'RSA_v1'] as const) {
      const der = mint({ version }).signatureDer;
      // ContentInfo > [0] > SignedData: the rebuilt but unchanged encoding still reads.
      expect(() => parseSignedData(appendInside(der, [1, 0], Buffer.alloc(0)), version)).not.toThrow();
      const afterSignerInfos = appendInside(der, [1, 0], Buffer.from('0500', 'hex'));
      expectCode(() => parseSignedData(afterSignerInfos, version), 'SIGNATURE_MALFORMED');
      expect(() => parseSignedData(afterSignerInfos, version)).toThrow(/unexpected fields after signerInfos/);
      // SignedData > signerInfos (its fifth field) > the SignerInfo: an [1] IMPLICIT SET OF attributes.
      const unsignedAttribute = tlv(0x30, [Buffer.from('06092a864886f70d010905', 'hex'), tlv(0x31, [Buffer.from('0500', 'hex')])]);
      const unsigned = appendInside(der, [1, 0, 4, 0], tlv(0xa1, [unsignedAttribute]));
      expectCode(() => parseSignedData(unsigned, version), 'SIGNATURE_MALFORMED');
      expect(() => parseSignedData(unsigned, version)).toThrow(/unsigned attributes or extra fields/);
    }
  });

  test("the version pins the signature algorithm: an EC_v1 token's CMS read as RSA_v1 is refused", () => {
    const der = mint({ version: 'EC_v1' }).signatureDer;
    expect(() => parseSignedData(der, 'RSA_v1')).toThrow(expect.objectContaining({ name: 'ApplePayError' }));
  });
});
