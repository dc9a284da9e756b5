// The CMS reader lib/steps/signed-data.ts replaced (object per value, children() arrays, a regular
// expression for times), kept verbatim as an oracle: the differential test in
// test/unit/cms-differential.test.ts holds the faster reader to the same verdict, the same code and
// the same message, in the same order, on every mutated signature.
import { ApplePayError } from '../../lib/errors.js';
import {
  DerError,
  TAG,
  children,
  content,
  equalsBytes,
  expectTag,
  readSmallInteger,
  readTlv,
  whole,
  type Tlv,
} from '../../lib/codec/der.js';
import type { SignedData, SignerInfo } from '../../lib/steps/signed-data.js';

export function referenceReadTime(buf: Uint8Array, tlv: Tlv): Date {
  const text = Buffer.from(buf.buffer, buf.byteOffset + tlv.contentStart, tlv.contentEnd - tlv.contentStart).toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (tlv.tag === TAG.UTC_TIME) {
    m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text);
    if (m === null) throw new DerError('malformed UTCTime');
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (tlv.tag === TAG.GENERALIZED_TIME) {
    m = /^(\d\d\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text);
    if (m === null) throw new DerError('malformed GeneralizedTime');
    year = Number(m[1]);
  } else {
    throw new DerError('expected a UTCTime or GeneralizedTime');
  }
  const [month, day, hour, minute, second] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const d = new Date(ms);
  // Date.UTC rolls 31 February over into March; a real time round-trips.
  if (
    d.getUTCFullYear() !== year ||
    d.getUTCMonth() !== month - 1 ||
    d.getUTCDate() !== day ||
    d.getUTCHours() !== hour ||
    d.getUTCMinutes() !== minute ||
    d.getUTCSeconds() !== second
  ) {
    throw new DerError('impossible date');
  }
  return d;
}

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// Whole encodings, tag and length included.
const OID_SIGNED_DATA = hex('06092a864886f70d010702');
const OID_DATA = hex('06092a864886f70d010701');
const OID_CONTENT_TYPE = hex('06092a864886f70d010903');
const OID_MESSAGE_DIGEST = hex('06092a864886f70d010904');
const OID_SIGNING_TIME = hex('06092a864886f70d010905');
const OID_ALGORITHM_PROTECTION = hex('06092a864886f70d010934');
// SHA-256 occurs with a NULL parameter (tokens before 2023) and without one (since).
const SHA256_WITH_NULL = hex('300d06096086480165030402010500');
const SHA256_NO_PARAMS = hex('300b0609608648016503040201');
const ECDSA_WITH_SHA256 = hex('300a06082a8648ce3d040302');
const SHA256_WITH_RSA = hex('300d06092a864886f70d01010b0500');

const CERTIFICATE_COUNT = 2;

function malformed(message: string): ApplePayError {
  return new ApplePayError('SIGNATURE_MALFORMED', message, { field: 'signature' });
}

function isSha256(buf: Uint8Array, tlv: Tlv): boolean {
  return equalsBytes(buf, tlv, SHA256_WITH_NULL) || equalsBytes(buf, tlv, SHA256_NO_PARAMS);
}

/** Reads the SignedData; the version chooses the one signature algorithm that is allowed. */
export function referenceParseSignedData(buf: Uint8Array, version: 'EC_v1' | 'RSA_v1'): SignedData {
  try {
    return parse(buf, version);
  } catch (err) {
    if (err instanceof DerError) throw malformed(`signature is not a valid CMS structure: ${err.message}`);
    throw err;
  }
}

function parse(buf: Uint8Array, version: 'EC_v1' | 'RSA_v1'): SignedData {
  const contentInfo = expectTag(readTlv(buf, 0, buf.length), TAG.SEQUENCE, 'ContentInfo');
  if (contentInfo.end !== buf.length) throw malformed('data after the CMS ContentInfo');
  const [contentType, explicit, ...restInfo] = children(buf, contentInfo);
  if (restInfo.length !== 0) throw malformed('unexpected fields in ContentInfo');
  if (!equalsBytes(buf, expectTag(contentType, TAG.OID, 'contentType'), OID_SIGNED_DATA)) {
    throw malformed('CMS content is not SignedData');
  }
  const [signedData, ...restExplicit] = children(buf, expectTag(explicit, TAG.CONTEXT_0, 'SignedData wrapper'));
  if (restExplicit.length !== 0) throw malformed('unexpected data after SignedData');
  const fields = children(buf, expectTag(signedData, TAG.SEQUENCE, 'SignedData'));

  let i = 0;
  if (readSmallInteger(buf, expectTag(fields[i++], TAG.INTEGER, 'SignedData version'), 'SignedData version') !== 1) {
    throw malformed('SignedData version is not 1');
  }

  const digestAlgorithms = children(buf, expectTag(fields[i++], TAG.SET, 'digestAlgorithms'));
  if (digestAlgorithms.length !== 1 || !isSha256(buf, digestAlgorithms[0]!)) {
    throw new ApplePayError('SIGNATURE_INVALID', 'SignedData digest algorithms are not exactly SHA-256', { field: 'signature' });
  }

  const encap = children(buf, expectTag(fields[i++], TAG.SEQUENCE, 'encapContentInfo'));
  if (!equalsBytes(buf, expectTag(encap[0], TAG.OID, 'eContentType'), OID_DATA)) {
    throw malformed('encapsulated content type is not id-data');
  }
  // Attached content is the forgery vector: a verifier that checks the signature over it would
  // accept any `data` alongside. Apple's signatures are always detached.
  if (encap.length !== 1) throw malformed('signature carries encapsulated content; Apple signatures are detached');

  let field = fields[i];
  if (field === undefined || field.tag !== TAG.CONTEXT_0) throw malformed('SignedData carries no certificates');
  const certificates = children(buf, field).map((cert) => {
    if (cert.tag !== TAG.SEQUENCE || cert.indefinite) throw malformed('certificate is not a DER SEQUENCE');
    // A view: nearly every token's certificates are only compared with the cached ones.
    return whole(buf, cert);
  });
  // Apple sends the leaf and the intermediate, nothing else. A further certificate is refused on sight,
  // before any of its bytes is parsed: nothing about it could make the token more genuine.
  if (certificates.length !== CERTIFICATE_COUNT) {
    throw malformed('SignedData must carry exactly the leaf and intermediate certificates');
  }
  field = fields[++i];
  if (field !== undefined && field.tag === TAG.CONTEXT_1) throw malformed('SignedData carries revocation lists');

  const signerInfos = children(buf, expectTag(fields[i++], TAG.SET, 'signerInfos'));
  if (i !== fields.length) throw malformed('unexpected fields after signerInfos');
  if (signerInfos.length !== 1) throw malformed(`expected exactly one SignerInfo, found ${signerInfos.length}`);

  return { certificates, signer: parseSignerInfo(buf, signerInfos[0]!, version) };
}

function parseSignerInfo(buf: Uint8Array, signerInfo: Tlv, version: 'EC_v1' | 'RSA_v1'): SignerInfo {
  if (signerInfo.indefinite) throw malformed('SignerInfo must be DER');
  const fields = children(buf, expectTag(signerInfo, TAG.SEQUENCE, 'SignerInfo'));
  let i = 0;
  if (readSmallInteger(buf, expectTag(fields[i++], TAG.INTEGER, 'SignerInfo version'), 'SignerInfo version') !== 1) {
    throw malformed('SignerInfo version is not 1 (issuerAndSerialNumber)');
  }
  const sid = children(buf, expectTag(fields[i++], TAG.SEQUENCE, 'issuerAndSerialNumber'));
  if (sid.length !== 2) throw malformed('malformed issuerAndSerialNumber');
  const issuer = whole(buf, expectTag(sid[0], TAG.SEQUENCE, 'signer issuer'));
  const serialNumber = content(buf, expectTag(sid[1], TAG.INTEGER, 'signer serial number'));

  const digestAlgorithm = expectTag(fields[i++], TAG.SEQUENCE, 'SignerInfo digestAlgorithm');
  if (!isSha256(buf, digestAlgorithm)) {
    throw new ApplePayError('SIGNATURE_INVALID', 'SignerInfo digest algorithm is not SHA-256', { field: 'signature' });
  }

  const attrsTlv = fields[i++];
  if (attrsTlv === undefined || attrsTlv.tag !== TAG.CONTEXT_0) throw malformed('SignerInfo has no signed attributes');
  if (attrsTlv.indefinite) throw malformed('signed attributes must be DER');
  const attributes = readSignedAttributes(buf, attrsTlv);

  const algorithm = expectTag(fields[i++], TAG.SEQUENCE, 'signatureAlgorithm');
  const pinned = version === 'EC_v1' ? ECDSA_WITH_SHA256 : SHA256_WITH_RSA;
  if (!equalsBytes(buf, algorithm, pinned)) {
    throw new ApplePayError('SIGNATURE_INVALID', `signature algorithm is not the one ${version} requires`, { field: 'signature' });
  }
  if (attributes.algorithmProtection !== null) checkAlgorithmProtection(buf, attributes.algorithmProtection, pinned);

  const signature = content(buf, expectTag(fields[i++], TAG.OCTET_STRING, 'signature value'));
  if (signature.length === 0) throw malformed('empty signature value');
  if (i !== fields.length) throw malformed('SignerInfo carries unsigned attributes or extra fields');

  // A copy: its first byte is rewritten below.
  const signedAttributes = Buffer.from(whole(buf, attrsTlv));
  // The signature covers the attributes encoded as an explicit SET OF, not as the [0] IMPLICIT field.
  signedAttributes[0] = TAG.SET;
  return {
    issuer,
    serialNumber,
    signedAttributes,
    messageDigest: attributes.messageDigest,
    signingTime: attributes.signingTime,
    signature,
  };
}

interface Attributes {
  messageDigest: Buffer;
  signingTime: Date;
  algorithmProtection: Tlv | null;
}

function readSignedAttributes(buf: Uint8Array, attrsTlv: Tlv): Attributes {
  let contentTypeSeen = false;
  let messageDigest: Buffer | null = null;
  let signingTime: Date | null = null;
  let algorithmProtection: Tlv | null = null;
  const seen = new Set<string>();

  for (const attr of children(buf, attrsTlv)) {
    const [type, values, ...rest] = children(buf, expectTag(attr, TAG.SEQUENCE, 'signed attribute'));
    if (rest.length !== 0) throw malformed('malformed signed attribute');
    const typeTlv = expectTag(type, TAG.OID, 'attribute type');
    const typeKey = whole(buf, typeTlv).toString('hex');
    // RFC 5652 5.3: each attribute type at most once, and these four with exactly one value.
    if (seen.has(typeKey)) throw malformed('duplicate signed attribute');
    seen.add(typeKey);
    const valueList = children(buf, expectTag(values, TAG.SET, 'attribute values'));

    if (equalsBytes(buf, typeTlv, OID_CONTENT_TYPE)) {
      if (valueList.length !== 1 || !equalsBytes(buf, valueList[0]!, OID_DATA)) {
        throw malformed('contentType attribute is not id-data');
      }
      contentTypeSeen = true;
    } else if (equalsBytes(buf, typeTlv, OID_MESSAGE_DIGEST)) {
      if (valueList.length !== 1) throw malformed('messageDigest attribute must have one value');
      messageDigest = content(buf, expectTag(valueList[0], TAG.OCTET_STRING, 'messageDigest'));
      if (messageDigest.length !== 32) throw malformed('messageDigest is not a SHA-256 digest');
    } else if (equalsBytes(buf, typeTlv, OID_SIGNING_TIME)) {
      if (valueList.length !== 1) throw malformed('signingTime attribute must have one value');
      try {
        signingTime = referenceReadTime(buf, valueList[0]!);
      } catch {
        throw malformed('signingTime is not a valid time');
      }
    } else if (equalsBytes(buf, typeTlv, OID_ALGORITHM_PROTECTION)) {
      if (valueList.length !== 1) throw malformed('CMSAlgorithmProtection attribute must have one value');
      algorithmProtection = valueList[0]!;
    }
    // Other attributes are covered by the signature and carry nothing the verifier relies on.
  }

  if (!contentTypeSeen) throw malformed('signed attributes lack contentType');
  if (messageDigest === null) throw malformed('signed attributes lack messageDigest');
  if (signingTime === null) {
    throw new ApplePayError('SIGNING_TIME_MISSING', 'signed attributes lack signingTime', { field: 'signature' });
  }
  return { messageDigest, signingTime, algorithmProtection };
}

// RFC 6211: the signed copy of the algorithms must name the same ones the SignerInfo uses.
function checkAlgorithmProtection(buf: Uint8Array, protection: Tlv, pinnedSignature: Buffer): void {
  const [digest, signature, ...rest] = children(buf, expectTag(protection, TAG.SEQUENCE, 'CMSAlgorithmProtection'));
  if (rest.length !== 0 || digest === undefined || !isSha256(buf, digest)) {
    throw new ApplePayError('SIGNATURE_INVALID', 'CMSAlgorithmProtection does not name SHA-256', { field: 'signature' });
  }
  const sig = expectTag(signature, TAG.CONTEXT_1, 'CMSAlgorithmProtection signatureAlgorithm');
  const expected = pinnedSignature.subarray(2);
  const actual = content(buf, sig);
  if (!actual.equals(expected)) {
    throw new ApplePayError('SIGNATURE_INVALID', 'CMSAlgorithmProtection names another signature algorithm', { field: 'signature' });
  }
}
