// Shared by the hardening tests: one verdict type for "what did the library do with this input",
// bit flips, and a locator for the CMS fields that no signature covers.
//
// The locator walks BER with the tests' oracle (test/support/ber.ts) rather than lib/codec/der.ts, so a bug in the library's reader
// cannot also hide the field it should have checked.
import { ApplePayError, type ErrorCode, type Verifier } from '../../lib/index.js';

export type Verdict = { ok: true; transactionId: string } | { ok: false; code: ErrorCode } | { unexpected: string };

/** Runs one verification and classifies it; anything thrown that is not an ApplePayError is `unexpected`. */
export function verdictSync(verifier: Verifier, token: unknown, now: Date): Verdict {
  try {
    return { ok: true, transactionId: verifier.verifyAndDecryptSync(token, { now }).transactionId };
  } catch (err) {
    return classify(err);
  }
}

export async function verdictAsync(verifier: Verifier, token: unknown, now: Date): Promise<Verdict> {
  try {
    return { ok: true, transactionId: (await verifier.verifyAndDecrypt(token, { now })).transactionId };
  } catch (err) {
    return classify(err);
  }
}

function classify(err: unknown): Verdict {
  if (err instanceof ApplePayError) return { ok: false, code: err.code };
  return { unexpected: err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err) };
}

/** A copy of `bytes` with bit `bit` (0 = most significant bit of byte 0) inverted. */
export function flipBit(bytes: Uint8Array, bit: number): Buffer {
  const out = Buffer.from(bytes);
  out[bit >> 3]! ^= 0x80 >> (bit & 7);
  return out;
}

import { childrenOf, tlvAt, type Tlv } from './ber.js';

export { childrenOf, tlvAt, type Tlv };

export interface Field {
  name: string;
  start: number;
  end: number;
}

/**
 * The fields of an Apple-profile detached SignedData that neither the CMS signature nor a certificate
 * signature covers, as byte ranges of the whole encoding (tag and length included): each has one
 * value in Apple's profile, so any change must be refused.
 */
export function unsignedCmsFields(cms: Uint8Array): Field[] {
  const field = (name: string, t: Tlv): Field => ({ name, start: t.start, end: t.end });
  const contentInfo = tlvAt(cms, 0);
  const [contentType, explicit] = childrenOf(cms, contentInfo) as [Tlv, Tlv];
  const [signedData] = childrenOf(cms, explicit) as [Tlv];
  const [version, digestAlgorithms, encap, certificates, signerInfos] = childrenOf(cms, signedData) as [Tlv, Tlv, Tlv, Tlv, Tlv];
  if (certificates.tag !== 0xa0 || signerInfos.tag !== 0x31) throw new Error('not the minted CMS layout');
  const [eContentType] = childrenOf(cms, encap) as [Tlv];
  const fields = [
    field('ContentInfo.contentType', contentType),
    field('SignedData.version', version),
    field('SignedData.digestAlgorithms', digestAlgorithms),
    field('encapContentInfo.eContentType', eContentType),
  ];
  childrenOf(cms, certificates).forEach((cert, i) => {
    const [, outerAlgorithm] = childrenOf(cms, cert) as [Tlv, Tlv];
    fields.push(field(`certificates[${i}].signatureAlgorithm`, outerAlgorithm));
  });
  const [signerInfo] = childrenOf(cms, signerInfos) as [Tlv];
  const [siVersion, sid, digestAlgorithm, signedAttrs, signatureAlgorithm] = childrenOf(cms, signerInfo) as [Tlv, Tlv, Tlv, Tlv, Tlv];
  if (signedAttrs.tag !== 0xa0) throw new Error('not the minted SignerInfo layout');
  fields.push(
    field('SignerInfo.version', siVersion),
    field('SignerInfo.sid', sid),
    field('SignerInfo.digestAlgorithm', digestAlgorithm),
    field('SignerInfo.signatureAlgorithm', signatureAlgorithm),
  );
  return fields;
}
