// docs/token-format.md#merchant-key: the merchant's payment-processing keys, imported once at configuration time, and the
// choice of key per token by publicKeyHash.
import { createHash } from 'node:crypto';
import { ApplePayError } from '../errors.js';
import {
  CertificateError,
  certificateDer,
  merchantIdentifierHash,
  parseCertificate,
  type ParsedCertificate,
} from '../x509/certificates.js';
import { isNativeError, native, type MerchantKeyHandle } from '../native/binding.js';
import { MERCHANT_IDENTITY_MESSAGE, merchantCertificateKind } from '../x509/cert-facts.js';
import type { TokenVersion } from './token.js';

export interface MerchantOptions {
  /** Payment-processing certificate, PEM or DER. May be omitted when privateKey is a PKCS#12 holding it. */
  certificate?: string | Uint8Array;
  /** PEM or DER (PKCS#8, SEC1, PKCS#1) or PKCS#12. */
  privateKey: string | Uint8Array;
  /** For an encrypted PKCS#8 key or a PKCS#12 file. */
  passphrase?: string | Uint8Array;
  /** In place of a certificate: the merchant identifier, e.g. "merchant.com.example". */
  merchantIdentifier?: string;
}

export interface Merchant {
  /** Position in the configuration, for messages. */
  readonly index: number;
  readonly key: MerchantKeyHandle;
  readonly version: TokenVersion;
  /** SHA-256 of the payment-processing certificate's SubjectPublicKeyInfo, as the token names it. */
  readonly publicKeyHash: Buffer;
  /** Party V of the KDF: SHA-256 of the merchant identifier, all 32 bytes. */
  readonly partyV: Buffer;
  /** The configured certificate (its expiry and merchant id feed merchantKeys()), null for a bare key. */
  readonly certificate: ParsedCertificate | null;
}

const sha256 = (data: Uint8Array | string): Buffer => createHash('sha256').update(data).digest();

function bytesOf(v: string | Uint8Array): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v);
}

export function loadMerchant(options: MerchantOptions, index: number): Merchant {
  const where = `merchants[${index}]`;
  const hasIdentifier = options.merchantIdentifier !== undefined;
  if (hasIdentifier && (typeof options.merchantIdentifier !== 'string' || options.merchantIdentifier.length === 0)) {
    throw new ApplePayError('CONFIG_INVALID', `${where}.merchantIdentifier must be a non-empty string`, {
      field: `${where}.merchantIdentifier`,
    });
  }

  const key = importKey(options, where);
  const version: TokenVersion = key.type === 'ec' ? 'EC_v1' : 'RSA_v1';

  let certificate: ParsedCertificate | null = null;
  const certificateInput = options.certificate ?? (hasIdentifier ? undefined : (key.certificate ?? undefined));
  if (certificateInput !== undefined) {
    certificate = loadCertificate(certificateInput, `${where}.certificate`);
    // Before the key check: with a Merchant Identity certificate, "the key does not match" would send
    // the user looking for another key when the certificate is what is wrong.
    if (merchantIdentifierHash(certificate) !== null && merchantCertificateKind(certificate) === 'merchant-identity') {
      throw new ApplePayError('MERCHANT_CERT_INVALID', `${where}.certificate ${MERCHANT_IDENTITY_MESSAGE}`, {
        field: `${where}.certificate`,
        certificate: 'merchant',
      });
    }
    if (!certificate.spki.equals(key.spki)) {
      throw new ApplePayError('MERCHANT_KEY_INVALID', `${where}.privateKey does not belong to its certificate`, {
        field: `${where}.privateKey`,
        certificate: 'merchant',
      });
    }
  } else if (!hasIdentifier) {
    throw new ApplePayError('CONFIG_INVALID', `${where} needs a certificate or a merchantIdentifier`, { field: where });
  }

  let partyV: Buffer;
  if (certificate !== null) {
    const fromCertificate = merchantIdentifierHash(certificate);
    if (fromCertificate === null) {
      throw new ApplePayError(
        'MERCHANT_CERT_INVALID',
        `${where}.certificate lacks a well-formed merchant identifier extension (1.2.840.113635.100.6.32)`,
        { field: `${where}.certificate`, certificate: 'merchant' },
      );
    }
    if (hasIdentifier && !sha256(options.merchantIdentifier!).equals(fromCertificate)) {
      throw new ApplePayError('CONFIG_INVALID', `${where}.merchantIdentifier is not the one in its certificate`, {
        field: `${where}.merchantIdentifier`,
      });
    }
    partyV = fromCertificate;
  } else {
    partyV = sha256(options.merchantIdentifier!);
  }

  return {
    index,
    key,
    version,
    publicKeyHash: sha256(certificate?.spki ?? key.spki),
    partyV,
    certificate,
  };
}

function importKey(options: MerchantOptions, where: string): MerchantKeyHandle {
  const { privateKey, passphrase } = options;
  if (typeof privateKey !== 'string' && !(privateKey instanceof Uint8Array)) {
    throw new ApplePayError('CONFIG_INVALID', `${where}.privateKey must be a string or bytes`, { field: `${where}.privateKey` });
  }
  if (passphrase !== undefined && typeof passphrase !== 'string' && !(passphrase instanceof Uint8Array)) {
    throw new ApplePayError('CONFIG_INVALID', `${where}.passphrase must be a string or bytes`, { field: `${where}.passphrase` });
  }
  const keyBytes = bytesOf(privateKey);
  const passBytes = passphrase === undefined ? null : bytesOf(passphrase);
  try {
    return native.importKey(keyBytes, passBytes);
  } catch (err) {
    if (isNativeError(err) && (err.code === 'ERR_KEY_DECODE' || err.code === 'ERR_KEY_UNSUPPORTED' || err.code === 'ERR_ARGUMENT')) {
      const why =
        err.code === 'ERR_KEY_UNSUPPORTED'
          ? 'is not an EC P-256 or RSA (2048 bits or more) key'
          : 'could not be read (not PEM, DER or PKCS#12, or a wrong passphrase)';
      throw new ApplePayError('MERCHANT_KEY_INVALID', `${where}.privateKey ${why}`, { field: `${where}.privateKey` });
    }
    if (err instanceof ApplePayError) throw err; // the addon could not be loaded (lib/native/loader.ts): its own message
    throw new ApplePayError('INTERNAL', `${where}.privateKey could not be imported`, { field: `${where}.privateKey` });
  } finally {
    // Our copies of the key file; the caller's own string cannot be wiped from here.
    keyBytes.fill(0);
    passBytes?.fill(0);
  }
}

function loadCertificate(input: string | Uint8Array, field: string): ParsedCertificate {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new ApplePayError('CONFIG_INVALID', `${field} must be a string or bytes`, { field });
  }
  const der = certificateDer(input);
  if (der === null)
    throw new ApplePayError('MERCHANT_CERT_INVALID', `${field} is not one PEM or DER certificate`, { field, certificate: 'merchant' });
  try {
    return parseCertificate(der);
  } catch (err) {
    if (err instanceof CertificateError) {
      throw new ApplePayError('MERCHANT_CERT_INVALID', `${field} is invalid: ${err.message}`, { field, certificate: 'merchant' });
    }
    throw err;
  }
}

/** Merchants by publicKeyHash; duplicates are a configuration error. */
export function indexMerchants(merchants: readonly Merchant[]): Map<string, Merchant> {
  const byHash = new Map<string, Merchant>();
  for (const m of merchants) {
    const key = m.publicKeyHash.toString('base64');
    const other = byHash.get(key);
    if (other !== undefined) {
      throw new ApplePayError('CONFIG_INVALID', `merchants[${other.index}] and merchants[${m.index}] have the same public key`, {
        field: `merchants[${m.index}]`,
      });
    }
    byHash.set(key, m);
  }
  return byHash;
}
