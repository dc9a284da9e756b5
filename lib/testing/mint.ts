/**
 * Mint Apple Pay payment tokens signed by a test PKI: the engine under the public test kit
 * (lib/testing/index.ts) and the package's own vector generator (test-vectors/gen).
 *
 * The output has Apple's byte layout (docs/token-format.md, and the real tokens in
 * test-vectors/real/): detached CMS SignedData with indefinite BER lengths on the outer layers,
 * [leaf, intermediate] certificates, signed attributes {contentType, signingTime,
 * CMSAlgorithmProtection, messageDigest}. The `cms` knobs break one thing at a time for negative tests.
 */
import {
  createCipheriv,
  createHash,
  diffieHellman,
  generateKeyPairSync,
  publicEncrypt,
  randomBytes,
  constants as cryptoConstants,
  type KeyObject,
} from 'node:crypto';
import * as der from './der.js';
import { presetPayment } from './presets.js';
import {
  HASH_OF_DIGEST_OID,
  OID,
  algorithmIdentifier,
  issueEmptyCrl,
  issuerAndSerial,
  merchantIdHash,
  signBytes,
  signatureAlgorithm,
  signatureAlgorithmIdentifier,
  spkiDer,
  type SignatureAlgorithm,
} from './x509.js';

/** What minting needs from a PKI: the signing authorities and the merchants to encrypt to. */
export interface MintingPki {
  intermediate: Signer;
  leafEc: Signer;
  leafRsa: Signer;
  merchants: Readonly<Record<string, MerchantTarget>>;
}

// ---------------------------------------------------------------------------
// Token types

export type TokenVersion = 'EC_v1' | 'RSA_v1';

export interface PaymentDataHeader {
  ephemeralPublicKey?: string;
  wrappedKey?: string;
  publicKeyHash: string;
  transactionId: string;
  applicationData?: string;
}

export interface PaymentData {
  version: string;
  data: string;
  signature: string;
  header: PaymentDataHeader;
}

export interface Signer {
  certDer: Buffer;
  /** Private key matching certDer (or not, for a negative test). */
  key: KeyObject;
}

/** Whom to encrypt to. A TestMerchant fits; so does any {publicKey, identifier}. */
export interface MerchantTarget {
  publicKey: KeyObject;
  identifier: string;
}

export interface CmsOptions {
  /** sha256 AlgorithmIdentifier with NULL parameters (pre-2023 tokens) instead of none. Default false. */
  digestParamsNull?: boolean;
  /** Indefinite BER lengths on the outer layers, as Apple. Default true; false gives definite-length DER. */
  indefiniteLength?: boolean;
  /** Put this as eContent in encapContentInfo and sign over it (instead of the detached token content). */
  attachContent?: Buffer;
  /** Add this many further SignerInfos (same signer, each validly signed). */
  extraSigners?: number;
  omitContentTypeAttr?: boolean;
  /** Value of the contentType signed attribute. Default id-data. */
  contentTypeOid?: string;
  omitMessageDigest?: boolean;
  messageDigestOverride?: Buffer;
  omitAlgorithmProtection?: boolean;
  signingTimeAsGeneralizedTime?: boolean;
  /** No signedAttrs at all: the signature is then over the content itself. */
  omitSignedAttributes?: boolean;
  /** Further encoded Attribute SEQUENCEs to add to signedAttrs (e.g. a second messageDigest). */
  extraSignedAttributes?: Buffer[];
  /** SignerInfo.signatureAlgorithm (and CMSAlgorithmProtection). Only the identifier changes: the hash stays the digest algorithm's. */
  signatureAlgorithmOid?: string;
  /** digestAlgorithms, SignerInfo.digestAlgorithm and CMSAlgorithmProtection. Known OIDs (sha1/256/384/512) also pick the hash actually used for messageDigest and the signature, so the CMS stays valid. */
  digestAlgorithmOid?: string;
  signedDataVersion?: number;
  signerInfoVersion?: number;
  /** encapContentInfo.eContentType. Default id-data. */
  eContentTypeOid?: string;
  /** ContentInfo.contentType. Default id-signedData. */
  outerContentTypeOid?: string;
  signatureOverride?: Buffer;
  /** Digest and sign these bytes instead of the real signed content. */
  signedContentOverride?: Buffer;
  noCertificates?: boolean;
  /** Add a CRLs field holding one empty CRL issued by the intermediate. */
  includeCrls?: boolean;
}

export interface MintOptions {
  version: TokenVersion;
  /** Written as paymentData.version instead of `version` (which still picks the encryption). */
  versionOverride?: string;
  /** Object -> JSON plaintext; Buffer -> raw plaintext. Default: a 3DSecure payment. */
  payment?: object | Buffer;
  /** A name in pki.merchants, or a target. Default: merchants.ec for EC_v1, merchants.rsa for RSA_v1. */
  merchant?: string | MerchantTarget;
  /** Default: leafEc for EC_v1, leafRsa for RSA_v1. */
  signer?: Signer;
  /** Certificates in the CMS, in order. Default [signer cert, intermediate]. */
  certificates?: Buffer[];
  /** Default now. `null` omits the attribute. Milliseconds are dropped (UTCTime has whole seconds). */
  signingTime?: Date | null;
  /** Hex. Default 64 random lowercase hex characters. */
  transactionId?: string;
  /** Hex; omitted from the header when undefined. */
  applicationData?: string;
  /** EC_v1: ephemeral P-256 private key, for reproducible tokens. */
  ephemeralPrivateKey?: KeyObject;
  /** RSA_v1: the AES-128 key to wrap (16 bytes). Default random. */
  symmetricKey?: Buffer;
  /** header.publicKeyHash bytes instead of SHA-256(merchant SPKI). */
  publicKeyHashOverride?: Buffer;
  /** header.ephemeralPublicKey bytes (also signed) instead of the real ephemeral SPKI. */
  ephemeralPublicKeyOverride?: Buffer;
  /** header.wrappedKey bytes (also signed) instead of the real wrapped key. */
  wrappedKeyOverride?: Buffer;
  /** `data` bytes (also signed) instead of ciphertext ‖ tag. */
  dataOverride?: Buffer;
  cms?: CmsOptions;
}

export interface MintedToken {
  paymentData: PaymentData;
  expected: {
    transactionId: string;
    /** As encoded (whole seconds), or null when omitted. */
    signingTime: Date | null;
    /** What decrypting must give back: the object passed (or the default), or the raw Buffer. */
    payment: object | Buffer;
    plaintext: Buffer;
    merchantIdentifier: string;
    /** The AES key: KDF output (EC_v1, 32 bytes) or the wrapped key (RSA_v1, 16 bytes). */
    symmetricKey: Buffer;
  };
  /** The bytes the signature covers (before any signedContentOverride/attachContent). */
  signedContent: Buffer;
  /** paymentData.signature decoded. */
  signatureDer: Buffer;
}

/** A plausible 3DSecure payment (test PAN), fresh per call so tests can mutate it. */
export function defaultPayment(): Record<string, unknown> {
  return presetPayment('3DSecure');
}

// ---------------------------------------------------------------------------
// Encryption

const ZERO_IV = Buffer.alloc(16);

/** NIST SP 800-56A single-step KDF, one SHA-256 round, with Apple's OtherInfo. */
export function appleKdf(sharedSecret: Buffer, partyV: Buffer): Buffer {
  return createHash('sha256')
    .update(Buffer.from([0, 0, 0, 1]))
    .update(sharedSecret)
    .update(Buffer.from([0x0d]))
    .update('id-aes256-GCM', 'latin1')
    .update('Apple', 'latin1')
    .update(partyV)
    .digest();
}

function gcmEncrypt(key: Buffer, plaintext: Buffer): Buffer {
  const alg = key.length === 32 ? 'aes-256-gcm' : key.length === 16 ? 'aes-128-gcm' : null;
  if (!alg) throw new Error(`AES key of ${key.length} bytes`);
  // Apple uses a 16-byte IV: node hashes a non-96-bit IV through GHASH exactly as GCM specifies.
  const c = createCipheriv(alg, key, ZERO_IV, { authTagLength: 16 });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

// ---------------------------------------------------------------------------
// CMS

export interface BuildCmsParams {
  content: Buffer;
  signer: Signer;
  certificates: Buffer[];
  crls?: Buffer[];
  signingTime: Date | null;
  cms?: CmsOptions;
}

function defaultSignatureAlgorithm(key: KeyObject): SignatureAlgorithm {
  return signatureAlgorithm(key.asymmetricKeyType === 'rsa' ? 'sha256WithRSAEncryption' : 'ecdsa-with-SHA256');
}

function attribute(type: string, values: Buffer[]): Buffer {
  return der.sequence([der.oid(type), der.set(values)]);
}

/** Detached CMS SignedData (ContentInfo) over `content`, shaped like Apple's. */
export function buildCms(p: BuildCmsParams): Buffer {
  const o = p.cms ?? {};
  const ind = { indefinite: o.indefiniteLength ?? true };
  const digestOid = o.digestAlgorithmOid ?? OID.sha256;
  const digestAlgId = algorithmIdentifier(digestOid, o.digestParamsNull ?? false);
  // RFC 5652 5.4/5.5: both the messageDigest and the hash inside the signature use the
  // digestAlgorithm; the signatureAlgorithm identifier does not choose the hash.
  const digestHash = HASH_OF_DIGEST_OID[digestOid] ?? 'sha256';
  const sigAlg = o.signatureAlgorithmOid ? signatureAlgorithm(o.signatureAlgorithmOid) : defaultSignatureAlgorithm(p.signer.key);
  const sigAlgId = signatureAlgorithmIdentifier(sigAlg);
  const toSign = o.signedContentOverride ?? o.attachContent ?? p.content;
  const messageDigest = o.messageDigestOverride ?? createHash(digestHash).update(toSign).digest();

  const attrs: Buffer[] = [];
  if (!o.omitContentTypeAttr) attrs.push(attribute(OID.contentType, [der.oid(o.contentTypeOid ?? OID.data)]));
  if (p.signingTime) {
    const t = o.signingTimeAsGeneralizedTime ? der.generalizedTime(p.signingTime) : der.utcTime(p.signingTime);
    attrs.push(attribute(OID.signingTime, [t]));
  }
  if (!o.omitAlgorithmProtection) {
    // RFC 6211: SEQUENCE { digestAlgorithm, signatureAlgorithm [1] IMPLICIT AlgorithmIdentifier }
    attrs.push(attribute(OID.cmsAlgorithmProtection, [der.sequence([digestAlgId, der.retagImplicit(1, sigAlgId)])]));
  }
  if (!o.omitMessageDigest) attrs.push(attribute(OID.messageDigest, [der.octetString(messageDigest)]));
  attrs.push(...(o.extraSignedAttributes ?? []));
  // The signature covers the DER SET OF (tag 0x31), not the [0] IMPLICIT form written in SignerInfo.
  const signedAttrsSet = der.set(attrs);

  const { issuer, serial } = issuerAndSerial(p.signer.certDer);
  const signerInfo = (): Buffer => {
    const signatureInput = o.omitSignedAttributes ? toSign : signedAttrsSet;
    const sig = o.signatureOverride ?? signBytes(digestHash, signatureInput, p.signer.key);
    return der.sequence([
      der.integer(o.signerInfoVersion ?? 1),
      der.sequence([issuer, serial]),
      digestAlgId,
      ...(o.omitSignedAttributes ? [] : [der.retagImplicit(0, signedAttrsSet)]),
      sigAlgId,
      der.octetString(sig),
    ]);
  };
  const signerInfos = Array.from({ length: 1 + (o.extraSigners ?? 0) }, signerInfo);

  const encap = der.sequence(
    [der.oid(o.eContentTypeOid ?? OID.data), ...(o.attachContent ? [der.explicit(0, der.octetString(o.attachContent))] : [])],
    ind,
  );
  const signedData = der.sequence(
    [
      der.integer(o.signedDataVersion ?? 1),
      der.set([digestAlgId]),
      encap,
      ...(o.noCertificates ? [] : [der.implicit(0, p.certificates, true, ind)]),
      ...(p.crls && p.crls.length > 0 ? [der.implicit(1, p.crls, true)] : []),
      der.set(signerInfos, { sort: false }),
    ],
    ind,
  );
  return der.sequence([der.oid(o.outerContentTypeOid ?? OID.signedData), der.explicit(0, signedData, ind)], ind);
}

// ---------------------------------------------------------------------------
// Minting

const crlCache = new WeakMap<MintingPki, Buffer>();

function emptyCrl(pki: MintingPki): Buffer {
  let crl = crlCache.get(pki);
  if (!crl) {
    crl = issueEmptyCrl({
      // The leaf's issuer field is the intermediate's subject, already encoded.
      issuer: Buffer.from(issuerAndSerial(pki.leafEc.certDer).issuer),
      issuerKey: pki.intermediate.key,
      thisUpdate: new Date('2024-01-01T00:00:00Z'),
      nextUpdate: new Date('2034-01-01T00:00:00Z'),
    });
    crlCache.set(pki, crl);
  }
  return crl;
}

/**
 * Hex as a lenient decoder reads it (Buffer.from(..., 'hex') stops at the first bad
 * pair). Well-formed input decodes exactly; malformed input yields a token whose
 * signature is valid for a lenient verifier, which is what a strictness test needs.
 */
function hexBytes(hex: string): Buffer {
  return Buffer.from(hex, 'hex');
}

function wholeSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

export function mintToken(pki: MintingPki, options: MintOptions): MintedToken {
  const { version } = options;
  if (version !== 'EC_v1' && version !== 'RSA_v1') throw new Error(`unknown version ${String(version)}`);
  const merchant: MerchantTarget | undefined =
    typeof options.merchant === 'string'
      ? pki.merchants[options.merchant]
      : (options.merchant ?? (version === 'EC_v1' ? pki.merchants.ec : pki.merchants.rsa));
  if (!merchant) throw new Error(`no merchant ${typeof options.merchant === 'string' ? options.merchant : '(given object)'}`);
  const payment = options.payment ?? defaultPayment();
  const plaintext = Buffer.isBuffer(payment) ? payment : Buffer.from(JSON.stringify(payment), 'utf8');

  let symmetricKey: Buffer;
  let headerKey: Buffer;
  if (version === 'EC_v1') {
    if (merchant.publicKey.asymmetricKeyType !== 'ec') throw new Error('EC_v1 needs an EC merchant key');
    const eph = options.ephemeralPrivateKey ?? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    // ECDH output is the x-coordinate left-padded to the field size: always 32 bytes on P-256.
    const z = diffieHellman({ privateKey: eph, publicKey: merchant.publicKey });
    symmetricKey = appleKdf(z, merchantIdHash(merchant.identifier));
    headerKey = options.ephemeralPublicKeyOverride ?? spkiDer(eph);
  } else {
    if (merchant.publicKey.asymmetricKeyType !== 'rsa') throw new Error('RSA_v1 needs an RSA merchant key');
    symmetricKey = options.symmetricKey ?? randomBytes(16);
    // oaepHash sets the OAEP digest; OpenSSL uses the same digest for MGF1 unless told otherwise.
    const wrapped = publicEncrypt(
      { key: merchant.publicKey, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      symmetricKey,
    );
    headerKey = options.wrappedKeyOverride ?? wrapped;
  }
  const data = options.dataOverride ?? gcmEncrypt(symmetricKey, plaintext);

  const transactionId = options.transactionId ?? randomBytes(32).toString('hex');
  const applicationData = options.applicationData;
  const signedContent = Buffer.concat([
    headerKey,
    data,
    hexBytes(transactionId),
    ...(applicationData === undefined ? [] : [hexBytes(applicationData)]),
  ]);

  const signer: Signer = options.signer ?? (version === 'EC_v1' ? pki.leafEc : pki.leafRsa);
  const certificates = options.certificates ?? [signer.certDer, pki.intermediate.certDer];
  const signingTime = options.signingTime === null ? null : wholeSeconds(options.signingTime ?? new Date());
  const signatureDer = buildCms({
    content: signedContent,
    signer,
    certificates,
    signingTime,
    ...(options.cms?.includeCrls ? { crls: [emptyCrl(pki)] } : {}),
    ...(options.cms ? { cms: options.cms } : {}),
  });

  const publicKeyHash = options.publicKeyHashOverride ?? createHash('sha256').update(spkiDer(merchant.publicKey)).digest();
  const header: PaymentDataHeader = {
    ...(version === 'EC_v1' ? { ephemeralPublicKey: headerKey.toString('base64') } : { wrappedKey: headerKey.toString('base64') }),
    publicKeyHash: publicKeyHash.toString('base64'),
    transactionId,
    ...(applicationData === undefined ? {} : { applicationData }),
  };

  return {
    paymentData: {
      version: options.versionOverride ?? version,
      data: data.toString('base64'),
      signature: signatureDer.toString('base64'),
      header,
    },
    expected: {
      transactionId,
      signingTime,
      payment,
      plaintext,
      merchantIdentifier: merchant.identifier,
      symmetricKey,
    },
    signedContent,
    signatureDer,
  };
}
