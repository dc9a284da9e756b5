// A minimal reader for the BER subset that Apple's CMS signatures use.
//
// General ASN.1 parsers are slow on real signatures (milliseconds) and on hostile ones (huge OIDs, deep
// nesting). The signature's layout is fixed, so the pipeline walks it with this reader: single-byte
// tags, definite lengths of at most four bytes, indefinite lengths on constructed values (Apple's outer
// layers use them), a nesting bound, and no value read past its parent's end.

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

export interface Tlv {
  /** The identifier octet: class, constructed bit and tag number together (e.g. 0x30 for SEQUENCE). */
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  /** Excludes the end-of-contents octets of an indefinite-length value. */
  readonly contentEnd: number;
  readonly end: number;
  readonly indefinite: boolean;
}

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
  /** [0] constructed, context-specific. */
  CONTEXT_0: 0xa0,
  CONTEXT_1: 0xa1,
} as const;

const MAX_DEPTH = 24;

export function readTlv(buf: Uint8Array, pos: number, limit: number, depth = 0): Tlv {
  if (depth > MAX_DEPTH) throw new DerError('ASN.1 nested too deeply');
  if (pos + 2 > limit) throw new DerError('truncated ASN.1 header');
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte ASN.1 tags are not used here');
  let p = pos + 1;
  const first = buf[p++]!;
  if (first === 0x80) {
    if ((tag & 0x20) === 0) throw new DerError('indefinite length on a primitive ASN.1 value');
    const contentStart = p;
    for (;;) {
      if (p + 2 > limit) throw new DerError('unterminated indefinite-length ASN.1 value');
      if (buf[p] === 0 && buf[p + 1] === 0) {
        return { tag, start: pos, contentStart, contentEnd: p, end: p + 2, indefinite: true };
      }
      p = readTlv(buf, p, limit, depth + 1).end;
    }
  }
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const n = first & 0x7f;
    if (n > 4) throw new DerError('ASN.1 length too large');
    if (p + n > limit) throw new DerError('truncated ASN.1 length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[p++]!;
    if (length < 0x80 || length < 2 ** (8 * (n - 1))) throw new DerError('non-minimal ASN.1 length');
  }
  const end = p + length;
  if (end > limit) throw new DerError('ASN.1 value runs past its container');
  return { tag, start: pos, contentStart: p, contentEnd: end, end, indefinite: false };
}

/** The direct children of a constructed value, in order. */
export function children(buf: Uint8Array, parent: Tlv, depth = 0): Tlv[] {
  if ((parent.tag & 0x20) === 0) throw new DerError('expected a constructed ASN.1 value');
  const out: Tlv[] = [];
  let p = parent.contentStart;
  while (p < parent.contentEnd) {
    const child = readTlv(buf, p, parent.contentEnd, depth + 1);
    out.push(child);
    p = child.end;
  }
  return out;
}

export function expectTag(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (tlv === undefined) throw new DerError(`missing ${what}`);
  if (tlv.tag !== tag) throw new DerError(`unexpected ASN.1 tag for ${what}`);
  return tlv;
}

// Views, not copies: they share the input's memory, so a caller that will modify bytes copies first.
export function content(buf: Uint8Array, tlv: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + tlv.contentStart, tlv.contentEnd - tlv.contentStart);
}

export function whole(buf: Uint8Array, tlv: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + tlv.start, tlv.end - tlv.start);
}

/** A small non-negative INTEGER (versions); rejects non-minimal and negative encodings. */
export function readSmallInteger(buf: Uint8Array, tlv: Tlv, what: string): number {
  expectTag(tlv, TAG.INTEGER, what);
  const len = tlv.contentEnd - tlv.contentStart;
  if (len < 1 || len > 4) throw new DerError(`${what} out of range`);
  const first = buf[tlv.contentStart]!;
  if (first & 0x80) throw new DerError(`${what} is negative`);
  if (len > 1 && first === 0 && (buf[tlv.contentStart + 1]! & 0x80) === 0) {
    throw new DerError(`${what} is not minimally encoded`);
  }
  let v = 0;
  for (let i = tlv.contentStart; i < tlv.contentEnd; i++) v = v * 256 + buf[i]!;
  return v;
}

/** True when the value's encoding equals `expected` byte for byte. */
export function equalsBytes(buf: Uint8Array, tlv: Tlv, expected: Uint8Array): boolean {
  if (tlv.end - tlv.start !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) if (buf[tlv.start + i] !== expected[i]) return false;
  return true;
}

/**
 * UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) in the DER forms RFC 5280 prescribes:
 * seconds present, UTC, no fractions.
 */
export function readTime(buf: Uint8Array, tlv: Tlv): Date {
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

/**
 * Checks that a value and everything inside it is DER as X.509 requires (X.690 section 10): definite
 * lengths, primitive encodings of the primitive universal types, BOOLEAN 00/FF, minimal INTEGERs, BIT
 * STRINGs with zero padding bits, empty NULLs, well-formed OIDs and times, valid UTF8String. A parser
 * that skips what it does not understand can then skip nothing that is not well-formed. Context-specific
 * primitives are opaque here; their owners check them.
 */
export function checkDer(buf: Uint8Array, tlv: Tlv, depth = 0): void {
  if (depth > MAX_DEPTH) throw new DerError('ASN.1 nested too deeply');
  if (tlv.indefinite) throw new DerError('indefinite length in DER');
  const constructed = (tlv.tag & 0x20) !== 0;
  const universal = (tlv.tag & 0xc0) === 0;
  const number = tlv.tag & 0x1f;
  if (universal && number === 0) throw new DerError('end-of-contents octets outside an indefinite value');
  if (constructed) {
    if (universal && tlv.tag !== TAG.SEQUENCE && tlv.tag !== TAG.SET) throw new DerError('constructed encoding of a primitive type');
    for (const child of children(buf, tlv, depth)) checkDer(buf, child, depth + 1);
    return;
  }
  if (!universal) return;
  const len = tlv.contentEnd - tlv.contentStart;
  const first = buf[tlv.contentStart];
  switch (tlv.tag) {
    case 0x01: // BOOLEAN
      if (len !== 1 || (first !== 0x00 && first !== 0xff)) throw new DerError('BOOLEAN is not 00 or FF');
      return;
    case TAG.INTEGER:
    case 0x0a: // ENUMERATED
      if (len === 0) throw new DerError('empty INTEGER');
      if (
        len > 1 &&
        ((first === 0x00 && (buf[tlv.contentStart + 1]! & 0x80) === 0) || (first === 0xff && (buf[tlv.contentStart + 1]! & 0x80) !== 0))
      ) {
        throw new DerError('INTEGER is not minimally encoded');
      }
      return;
    case TAG.BIT_STRING: {
      if (len === 0 || first! > 7 || (len === 1 && first !== 0)) throw new DerError('malformed BIT STRING');
      if (len > 1 && (buf[tlv.contentEnd - 1]! & ((1 << first!) - 1)) !== 0) throw new DerError('BIT STRING padding bits are not zero');
      return;
    }
    case TAG.NULL:
      if (len !== 0) throw new DerError('NULL with content');
      return;
    case TAG.OID:
    case 0x0d: {
      // OID, RELATIVE-OID
      if (len === 0) throw new DerError('empty OID');
      let fresh = true;
      for (let i = tlv.contentStart; i < tlv.contentEnd; i++) {
        if (fresh && buf[i] === 0x80) throw new DerError('non-minimal OID arc');
        fresh = (buf[i]! & 0x80) === 0;
      }
      if (!fresh) throw new DerError('truncated OID');
      return;
    }
    case TAG.UTC_TIME:
    case TAG.GENERALIZED_TIME:
      readTime(buf, tlv);
      return;
    case TAG.UTF8_STRING:
      try {
        STRICT_UTF8.decode(buf.subarray(tlv.contentStart, tlv.contentEnd));
      } catch {
        throw new DerError('UTF8String is not valid UTF-8');
      }
      return;
    default:
      return;
  }
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
