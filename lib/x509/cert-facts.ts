// Facts about a certificate that support tools show and configuration checks rely on: names, key
// usage, extended key usage, and which Apple Pay certificate a merchant has handed us. Reads the
// certificates that lib/x509/certificates.ts has already parsed and bounded; never parses bytes itself
// except the small extension values and names inside such a certificate.
import { DerError, TAG, children, content, readTlv } from '../codec/der.js';
import type { ParsedCertificate } from './certificates.js';

const OID_CN = Buffer.from('550403', 'hex');
const OID_UID = Buffer.from('0992268993f22c640101', 'hex');
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
/** id-kp-clientAuth: TLS client authentication, what a Merchant Identity certificate is for. */
const CLIENT_AUTH = Buffer.from('2b06010505070302', 'hex');

// Strings in names: UTF8String, PrintableString, IA5String, T61String (latin1 is close enough for display).
const STRING_TAGS = new Set([0x0c, 0x13, 0x16, 0x14]);

function attribute(name: Buffer, oid: Buffer): string | null {
  try {
    const seq = readTlv(name, 0, name.length);
    if (seq.tag !== TAG.SEQUENCE) return null;
    for (const rdn of children(name, seq)) {
      for (const atv of children(name, rdn)) {
        const [type, value] = children(name, atv);
        if (type === undefined || value === undefined || type.tag !== TAG.OID) continue;
        if (!content(name, type).equals(oid)) continue;
        if (!STRING_TAGS.has(value.tag)) return null;
        const raw = content(name, value);
        return value.tag === 0x0c ? raw.toString('utf8') : raw.toString('latin1');
      }
    }
  } catch (err) {
    if (err instanceof DerError) return null;
    throw err;
  }
  return null;
}

/** The subject's commonName, or null when absent or unreadable. */
export function subjectCommonName(cert: ParsedCertificate): string | null {
  return attribute(cert.subject, OID_CN);
}

export function issuerCommonName(cert: ParsedCertificate): string | null {
  return attribute(cert.issuer, OID_CN);
}

/** The subject's userId (0.9.2342.19200300.100.1.1): Apple puts the merchant identifier there. */
export function subjectUserId(cert: ParsedCertificate): string | null {
  return attribute(cert.subject, OID_UID);
}

export type KeyUsageName =
  'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment' | 'keyAgreement' | 'keyCertSign' | 'cRLSign';
const KEY_USAGE_BITS: readonly KeyUsageName[] = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
];

/** Key usage bits set, or null when the certificate has no (readable) keyUsage extension. */
export function keyUsage(cert: ParsedCertificate): Set<KeyUsageName> | null {
  const value = cert.extensions.get(OID_KEY_USAGE);
  if (value === undefined) return null;
  try {
    const tlv = readTlv(value, 0, value.length);
    if (tlv.tag !== TAG.BIT_STRING || tlv.end !== value.length) return null;
    const bits = content(value, tlv).subarray(1);
    const set = new Set<KeyUsageName>();
    KEY_USAGE_BITS.forEach((name, i) => {
      if (((bits[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0) set.add(name);
    });
    return set;
  } catch (err) {
    if (err instanceof DerError) return null;
    throw err;
  }
}

/** True when an extendedKeyUsage extension lists TLS client authentication. */
export function hasClientAuth(cert: ParsedCertificate): boolean {
  const value = cert.extensions.get(OID_EXT_KEY_USAGE);
  if (value === undefined) return false;
  try {
    const seq = readTlv(value, 0, value.length);
    if (seq.tag !== TAG.SEQUENCE) return false;
    return children(value, seq).some((oid) => oid.tag === TAG.OID && content(value, oid).equals(CLIENT_AUTH));
  } catch (err) {
    if (err instanceof DerError) return false;
    throw err;
  }
}

export type MerchantCertificateKind = 'payment-processing' | 'merchant-identity';

/**
 * Which of a merchant's two Apple Pay certificates this is. Both carry the merchant identifier extension
 * (1.2.840.113635.100.6.32) and the subject UID, and the common name does not tell them apart either:
 * Payment Processing certificates issued in 2014 are named "Merchant ID: <id>", like Merchant Identity
 * certificates, and later ones "Apple Pay Payment Processing:<id>". What differs is what the key is for.
 * Apple issues every Payment Processing certificate with keyUsage keyEncipherment + keyAgreement and no
 * extended key usage: tokens are encrypted to it. A Merchant Identity certificate authenticates the
 * merchant's TLS client to Apple's payment-session endpoint: extendedKeyUsage clientAuth, and a keyUsage
 * (when present) without the bit that decrypting needs (keyAgreement for an EC key, keyEncipherment for RSA).
 */
export function merchantCertificateKind(cert: ParsedCertificate): MerchantCertificateKind {
  if (hasClientAuth(cert)) return 'merchant-identity';
  const usage = keyUsage(cert);
  if (usage !== null) {
    const needed: KeyUsageName = cert.keyType === 'rsa' ? 'keyEncipherment' : 'keyAgreement';
    if (!usage.has(needed)) return 'merchant-identity';
  }
  return 'payment-processing';
}

/** The message every refusal of a Merchant Identity certificate uses, so users learn one sentence. */
export const MERCHANT_IDENTITY_MESSAGE =
  'is an Apple Pay Merchant Identity certificate (it authenticates your server to Apple when starting a payment session), not a Payment Processing certificate: tokens are encrypted to the Payment Processing certificate, so configure that one and its key';
