// verifier.merchantKeys(): the key ring as the verifier sees it, with when each key last decrypted a
// token. Apple's renewal procedure ends with "delete the old key once tokens stop naming its hash";
// this makes that moment observable per process without logging anything secret.
import type { Merchant } from '../steps/merchant-key.js';
import type { TokenVersion } from '../steps/token.js';
import { subjectUserId } from '../x509/cert-facts.js';

export interface MerchantKeyInfo {
  /** Position in the verifier's `merchants` option. */
  index: number;
  /** The merchant identifier: the certificate's subject UID, else the merchantIdentifier option; else null. */
  merchantIdentifier: string | null;
  /** Lower-case hex SHA-256 of the merchant identifier (the KDF's party V). */
  merchantIdentifierHash: string;
  /** Base64 SHA-256 of the certificate's SubjectPublicKeyInfo: what tokens carry as header.publicKeyHash. */
  publicKeyHash: string;
  /** 'ec' keys decrypt EC_v1 tokens, 'rsa' keys RSA_v1. */
  type: 'ec' | 'rsa';
  version: TokenVersion;
  /** Certificate validity; null when configured by merchantIdentifier without a certificate. */
  notBefore: Date | null;
  notAfter: Date | null;
  /** When this key last decrypted a token in this verifier (the verification instant), or null. */
  lastUsed: Date | null;
}

export function describeMerchantKeys(
  merchants: ReadonlyMap<string, Merchant>,
  lastUsed: ReadonlyMap<Merchant, Date>,
  identifiers: ReadonlyMap<number, string>,
): MerchantKeyInfo[] {
  return [...merchants.values()]
    .sort((a, b) => a.index - b.index)
    .map((m) => {
      const used = lastUsed.get(m);
      return {
        index: m.index,
        merchantIdentifier: (m.certificate === null ? null : subjectUserId(m.certificate)) ?? identifiers.get(m.index) ?? null,
        merchantIdentifierHash: m.partyV.toString('hex'),
        publicKeyHash: m.publicKeyHash.toString('base64'),
        type: m.key.type,
        version: m.version,
        notBefore: m.certificate === null ? null : new Date(m.certificate.notBefore.getTime()),
        notAfter: m.certificate === null ? null : new Date(m.certificate.notAfter.getTime()),
        lastUsed: used === undefined ? null : new Date(used.getTime()),
      };
    });
}
