// Reads the token's `signature`: a detached CMS SignedData in the exact profile Apple uses
// (docs/token-format.md#signed-data). Every field that no signature covers (versions, algorithm identifiers, content
// type) has one allowed value here, so a flipped bit in them cannot slip through unnoticed.
import { ApplePayError } from '../errors.js';
import { DerCursor, DerError, TAG, readTimeMs } from '../codec/der.js';

export interface SignerInfo {
  /** DER Name of the signer certificate's issuer (issuerAndSerialNumber). */
  readonly issuer: Buffer;
  /** Content octets of the signer certificate's serial number INTEGER. */
  readonly serialNumber: Buffer;
  /** The signed attributes re-tagged as SET OF (0x31): the bytes the signature covers. */
  readonly signedAttributes: Buffer;
  readonly messageDigest: Buffer;
  readonly signingTime: Date;
  readonly signature: Buffer;
}

export interface SignedData {
  /** DER of each certificate in the certificate set, in token order. */
  readonly certificates: readonly Buffer[];
  readonly signer: SignerInfo;
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

// The SignerInfo as read: the fields the pipeline hands on are Buffers, the two it only compares with
// the leaf (issuer, serial number) stay byte ranges of the input until someone asks for them.
class ParsedSignerInfo implements SignerInfo {
  constructor(
    private readonly buf: Uint8Array,
    private readonly issuerStart: number,
    private readonly issuerEnd: number,
    private readonly serialStart: number,
    private readonly serialEnd: number,
    readonly signedAttributes: Buffer,
    readonly messageDigest: Buffer,
    readonly signingTime: Date,
    readonly signature: Buffer,
  ) {}

  get issuer(): Buffer {
    return view(this.buf, this.issuerStart, this.issuerEnd);
  }

  get serialNumber(): Buffer {
    return view(this.buf, this.serialStart, this.serialEnd);
  }

  /** True when issuerAndSerialNumber names the certificate with this issuer Name and serial number. */
  names(issuer: Uint8Array, serialNumber: Uint8Array): boolean {
    return (
      rangeEquals(this.buf, this.issuerStart, this.issuerEnd, issuer) &&
      rangeEquals(this.buf, this.serialStart, this.serialEnd, serialNumber)
    );
  }
}

/** True when the signer's issuerAndSerialNumber names the certificate with this issuer and serial number. */
export function signerNames(signer: SignerInfo, issuer: Uint8Array, serialNumber: Uint8Array): boolean {
  if (signer instanceof ParsedSignerInfo) return signer.names(issuer, serialNumber);
  const ownIssuer = signer.issuer;
  const ownSerial = signer.serialNumber;
  return rangeEquals(ownIssuer, 0, ownIssuer.length, issuer) && rangeEquals(ownSerial, 0, ownSerial.length, serialNumber);
}

// Views, not copies: they share the input's memory, so a caller that will modify bytes copies first.
function view(buf: Uint8Array, start: number, end: number): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start);
}

function rangeEquals(buf: Uint8Array, start: number, end: number, expected: Uint8Array): boolean {
  if (end - start !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) if (buf[start + i] !== expected[i]) return false;
  return true;
}

function isSha256(r: DerCursor): boolean {
  return r.equals(SHA256_WITH_NULL) || r.equals(SHA256_NO_PARAMS);
}

/** Reads the SignedData; the version chooses the one signature algorithm that is allowed. */
export function parseSignedData(buf: Uint8Array, version: 'EC_v1' | 'RSA_v1'): SignedData {
  try {
    return parse(new DerCursor(buf), version);
  } catch (err) {
    if (err instanceof DerError) throw malformed(`signature is not a valid CMS structure: ${err.message}`);
    throw err;
  }
}

// The walk below keeps the order of the checks of a reader that takes each constructed value apart
// (all of its children read) before it looks at any child: r.count() is that first step, and the
// reads after it cannot fail. A token with several faults therefore always gets the same error.
function parse(r: DerCursor, version: 'EC_v1' | 'RSA_v1'): SignedData {
  const buf = r.buf;
  r.read(0, buf.length, 0);
  r.expect(true, TAG.SEQUENCE, 'ContentInfo');
  if (r.end !== buf.length) throw malformed('data after the CMS ContentInfo');

  // ContentInfo: contentType, [0] EXPLICIT SignedData.
  const end = r.contentEnd;
  const p = r.contentStart;
  let n = r.count();
  if (n > 2) throw malformed('unexpected fields in ContentInfo');
  if (n > 0) r.read(p, end, 1);
  r.expect(n > 0, TAG.OID, 'contentType');
  if (!r.equals(OID_SIGNED_DATA)) throw malformed('CMS content is not SignedData');
  if (n > 1) r.read(r.end, end, 1);
  r.expect(n > 1, TAG.CONTEXT_0, 'SignedData wrapper');

  n = r.count();
  if (n > 1) throw malformed('unexpected data after SignedData');
  if (n > 0) r.first();
  r.expect(n > 0, TAG.SEQUENCE, 'SignedData');

  // SignedData: version, digestAlgorithms, encapContentInfo, [0] certificates, signerInfos.
  const fields = new Fields(r);

  r.expect(fields.next(), TAG.INTEGER, 'SignedData version');
  if (r.smallInteger('SignedData version') !== 1) throw malformed('SignedData version is not 1');

  r.expect(fields.next(), TAG.SET, 'digestAlgorithms');
  n = r.count();
  if (n === 1) r.first();
  if (n !== 1 || !isSha256(r)) {
    throw new ApplePayError('SIGNATURE_INVALID', 'SignedData digest algorithms are not exactly SHA-256', { field: 'signature' });
  }

  r.expect(fields.next(), TAG.SEQUENCE, 'encapContentInfo');
  n = r.count();
  if (n > 0) r.first();
  r.expect(n > 0, TAG.OID, 'eContentType');
  if (!r.equals(OID_DATA)) throw malformed('encapsulated content type is not id-data');
  // Attached content is the forgery vector: a verifier that checks the signature over it would
  // accept any `data` alongside. Apple's signatures are always detached.
  if (n !== 1) throw malformed('signature carries encapsulated content; Apple signatures are detached');

  if (!fields.next() || r.currentTag() !== TAG.CONTEXT_0) throw malformed('SignedData carries no certificates');
  const setEnd = r.contentEnd;
  n = r.count();
  const certificates: Buffer[] = [];
  for (let c = 0, q = r.contentStart; c < n; c++) {
    r.read(q, setEnd, 1);
    if (r.currentTag() !== TAG.SEQUENCE || r.indefinite) throw malformed('certificate is not a DER SEQUENCE');
    // A view: nearly every token's certificates are only compared with the cached ones.
    certificates.push(view(buf, r.start, r.end));
    q = r.end;
  }
  // Apple sends the leaf and the intermediate, nothing else. A further certificate is refused on sight,
  // before any of its bytes is parsed: nothing about it could make the token more genuine.
  if (certificates.length !== CERTIFICATE_COUNT) {
    throw malformed('SignedData must carry exactly the leaf and intermediate certificates');
  }

  const present = fields.next();
  if (present && r.currentTag() === TAG.CONTEXT_1) throw malformed('SignedData carries revocation lists');
  r.expect(present, TAG.SET, 'signerInfos');
  n = r.count();
  if (!fields.exhausted) throw malformed('unexpected fields after signerInfos');
  if (n !== 1) throw malformed(`expected exactly one SignerInfo, found ${n}`);
  r.first();

  return { certificates, signer: parseSignerInfo(r, version) };
}

// The fields of the value a cursor holds, read into that cursor one at a time, in order.
class Fields {
  readonly #r: DerCursor;
  readonly #end: number;
  readonly #count: number;
  #p: number;
  #i = 0;

  constructor(r: DerCursor) {
    this.#r = r;
    this.#end = r.contentEnd;
    this.#p = r.contentStart;
    this.#count = r.count();
  }

  /** Reads the next field into the cursor; false past the last (and counted, so `exhausted` turns false). */
  next(): boolean {
    if (this.#i++ >= this.#count) return false;
    this.#r.read(this.#p, this.#end, 1);
    this.#p = this.#r.end;
    return true;
  }

  /** Every field was read, and no read was asked for past the last. */
  get exhausted(): boolean {
    return this.#i === this.#count;
  }
}

// r holds the SignerInfo.
function parseSignerInfo(r: DerCursor, version: 'EC_v1' | 'RSA_v1'): ParsedSignerInfo {
  const buf = r.buf;
  if (r.indefinite) throw malformed('SignerInfo must be DER');
  r.expect(true, TAG.SEQUENCE, 'SignerInfo');
  const fields = new Fields(r);

  r.expect(fields.next(), TAG.INTEGER, 'SignerInfo version');
  if (r.smallInteger('SignerInfo version') !== 1) throw malformed('SignerInfo version is not 1 (issuerAndSerialNumber)');

  r.expect(fields.next(), TAG.SEQUENCE, 'issuerAndSerialNumber');
  const sidEnd = r.contentEnd;
  if (r.count() !== 2) throw malformed('malformed issuerAndSerialNumber');
  r.first();
  r.expect(true, TAG.SEQUENCE, 'signer issuer');
  const issuerStart = r.start;
  const issuerEnd = r.end;
  r.read(issuerEnd, sidEnd, 1);
  r.expect(true, TAG.INTEGER, 'signer serial number');
  const serialStart = r.contentStart;
  const serialEnd = r.contentEnd;

  r.expect(fields.next(), TAG.SEQUENCE, 'SignerInfo digestAlgorithm');
  if (!isSha256(r)) throw new ApplePayError('SIGNATURE_INVALID', 'SignerInfo digest algorithm is not SHA-256', { field: 'signature' });

  if (!fields.next() || r.currentTag() !== TAG.CONTEXT_0) throw malformed('SignerInfo has no signed attributes');
  if (r.indefinite) throw malformed('signed attributes must be DER');
  const attrsStart = r.start;
  const attrsEnd = r.end;
  const attributes = readSignedAttributes(r);

  r.expect(fields.next(), TAG.SEQUENCE, 'signatureAlgorithm');
  const pinned = version === 'EC_v1' ? ECDSA_WITH_SHA256 : SHA256_WITH_RSA;
  if (!r.equals(pinned)) {
    throw new ApplePayError('SIGNATURE_INVALID', `signature algorithm is not the one ${version} requires`, { field: 'signature' });
  }
  if (attributes.protectionStart >= 0) checkAlgorithmProtection(r, attributes.protectionStart, attrsEnd, pinned);

  r.expect(fields.next(), TAG.OCTET_STRING, 'signature value');
  if (r.contentEnd === r.contentStart) throw malformed('empty signature value');
  const signature = view(buf, r.contentStart, r.contentEnd);
  if (!fields.exhausted) throw malformed('SignerInfo carries unsigned attributes or extra fields');

  // A copy, because its first byte is rewritten: the signature covers the attributes encoded as an
  // explicit SET OF, not as the [0] IMPLICIT field.
  const signedAttributes = Buffer.allocUnsafe(attrsEnd - attrsStart);
  signedAttributes.set(buf.subarray(attrsStart, attrsEnd));
  signedAttributes[0] = TAG.SET;
  return new ParsedSignerInfo(
    buf,
    issuerStart,
    issuerEnd,
    serialStart,
    serialEnd,
    signedAttributes,
    view(buf, attributes.digestStart, attributes.digestStart + 32),
    new Date(attributes.signingTime),
    signature,
  );
}

interface Attributes {
  /** Where the 32 messageDigest octets start. */
  digestStart: number;
  /** Milliseconds since the epoch. */
  signingTime: number;
  /** Where the CMSAlgorithmProtection value starts, or -1. */
  protectionStart: number;
}

// The four attributes the verifier reads, each a bit in a mask of those seen.
const SEEN_CONTENT_TYPE = 1;
const SEEN_MESSAGE_DIGEST = 2;
const SEEN_SIGNING_TIME = 4;
const SEEN_PROTECTION = 8;

// r holds the [0] signed attributes.
function readSignedAttributes(r: DerCursor): Attributes {
  const buf = r.buf;
  let digestStart = -1;
  let signingTime = 0;
  let protectionStart = -1;
  let seen = 0;
  // Types of the attributes the verifier does not read, for the duplicate check; rarely any.
  let others: Set<string> | null = null;

  const end = r.contentEnd;
  const count = r.count();
  for (let a = 0, p = r.contentStart; a < count; a++) {
    r.read(p, end, 1);
    p = r.end;
    r.expect(true, TAG.SEQUENCE, 'signed attribute');
    const attrEnd = r.contentEnd;
    const n = r.count();
    if (n > 2) throw malformed('malformed signed attribute');
    if (n > 0) r.first();
    r.expect(n > 0, TAG.OID, 'attribute type');
    // RFC 5652 5.3: each attribute type at most once, and these four with exactly one value.
    let bit = 0;
    if (r.equals(OID_CONTENT_TYPE)) bit = SEEN_CONTENT_TYPE;
    else if (r.equals(OID_MESSAGE_DIGEST)) bit = SEEN_MESSAGE_DIGEST;
    else if (r.equals(OID_SIGNING_TIME)) bit = SEEN_SIGNING_TIME;
    else if (r.equals(OID_ALGORITHM_PROTECTION)) bit = SEEN_PROTECTION;
    if (bit !== 0) {
      if ((seen & bit) !== 0) throw malformed('duplicate signed attribute');
      seen |= bit;
    } else {
      const key = Buffer.from(buf.buffer, buf.byteOffset + r.start, r.end - r.start).toString('latin1');
      others ??= new Set();
      if (others.has(key)) throw malformed('duplicate signed attribute');
      others.add(key);
    }
    if (n > 1) r.read(r.end, attrEnd, 1);
    r.expect(n > 1, TAG.SET, 'attribute values');
    const values = r.count();
    if (values > 0) r.first();

    if (bit === SEEN_CONTENT_TYPE) {
      if (values !== 1 || !r.equals(OID_DATA)) throw malformed('contentType attribute is not id-data');
    } else if (bit === SEEN_MESSAGE_DIGEST) {
      if (values !== 1) throw malformed('messageDigest attribute must have one value');
      r.expect(true, TAG.OCTET_STRING, 'messageDigest');
      if (r.contentEnd - r.contentStart !== 32) throw malformed('messageDigest is not a SHA-256 digest');
      digestStart = r.contentStart;
    } else if (bit === SEEN_SIGNING_TIME) {
      if (values !== 1) throw malformed('signingTime attribute must have one value');
      try {
        signingTime = readTimeMs(buf, r.tag, r.contentStart, r.contentEnd);
      } catch {
        throw malformed('signingTime is not a valid time');
      }
    } else if (bit === SEEN_PROTECTION) {
      if (values !== 1) throw malformed('CMSAlgorithmProtection attribute must have one value');
      protectionStart = r.start;
    }
    // Other attributes are covered by the signature and carry nothing the verifier relies on.
  }

  if ((seen & SEEN_CONTENT_TYPE) === 0) throw malformed('signed attributes lack contentType');
  if (digestStart < 0) throw malformed('signed attributes lack messageDigest');
  if ((seen & SEEN_SIGNING_TIME) === 0) {
    throw new ApplePayError('SIGNING_TIME_MISSING', 'signed attributes lack signingTime', { field: 'signature' });
  }
  return { digestStart, signingTime, protectionStart };
}

// RFC 6211: the signed copy of the algorithms must name the same ones the SignerInfo uses. `start` is
// the CMSAlgorithmProtection value inside the signed attributes, which end at `limit`.
function checkAlgorithmProtection(r: DerCursor, start: number, limit: number, pinnedSignature: Buffer): void {
  // Read again as the only value of its SET, which the attribute walk has already checked.
  r.read(start, limit, 1);
  r.expect(true, TAG.SEQUENCE, 'CMSAlgorithmProtection');
  const end = r.contentEnd;
  const n = r.count();
  if (n > 0) r.first();
  if (n > 2 || n === 0 || !isSha256(r)) {
    throw new ApplePayError('SIGNATURE_INVALID', 'CMSAlgorithmProtection does not name SHA-256', { field: 'signature' });
  }
  if (n > 1) r.read(r.end, end, 1);
  r.expect(n > 1, TAG.CONTEXT_1, 'CMSAlgorithmProtection signatureAlgorithm');
  // The [1] IMPLICIT field's contents are the AlgorithmIdentifier's contents.
  const expectedLength = pinnedSignature.length - 2;
  let same = r.contentEnd - r.contentStart === expectedLength;
  for (let k = 0; same && k < expectedLength; k++) same = r.buf[r.contentStart + k] === pinnedSignature[2 + k];
  if (!same) {
    throw new ApplePayError('SIGNATURE_INVALID', 'CMSAlgorithmProtection names another signature algorithm', { field: 'signature' });
  }
}
