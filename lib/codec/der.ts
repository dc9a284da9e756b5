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
// The smallest length that needs n length octets (2 ** (8 * (n - 1))), for n = 0..4.
const MINIMAL_LONG_LENGTH = [0, 1, 0x100, 0x10000, 0x1000000];

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

/**
 * readTlv without an object per value, for hot paths (the token's signature): one cursor per parse
 * holds the value read last. Same rules, same errors, in the same order as readTlv and children().
 */
export class DerCursor {
  tag = 0;
  start = 0;
  contentStart = 0;
  /** Excludes the end-of-contents octets of an indefinite-length value. */
  contentEnd = 0;
  end = 0;
  indefinite = false;
  // Indefinite-length values already walked in this parse (start, end, depth): a parent's walk has
  // checked everything inside them, so reading one again as a child skips the walk. Bounded, so a
  // hostile input with thousands of them costs what readTlv costs, never more.
  private readonly walked: number[] = [];

  constructor(readonly buf: Uint8Array) {}

  /** Reads the value at pos into this cursor, as readTlv(buf, pos, limit, depth) would. */
  read(pos: number, limit: number, depth: number): void {
    const buf = this.buf;
    if (depth > MAX_DEPTH) throw new DerError('ASN.1 nested too deeply');
    if (pos + 2 > limit) throw new DerError('truncated ASN.1 header');
    const tag = buf[pos]!;
    if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte ASN.1 tags are not used here');
    let p = pos + 1;
    const first = buf[p++]!;
    this.tag = tag;
    this.start = pos;
    if (first === 0x80) {
      if ((tag & 0x20) === 0) throw new DerError('indefinite length on a primitive ASN.1 value');
      const end = this.walkedEnd(pos, limit, depth);
      this.contentStart = p;
      this.indefinite = true;
      if (end >= 0) {
        this.contentEnd = end - 2;
        this.end = end;
      } else {
        const e = this.walk(p, limit, depth);
        this.contentEnd = e - 2;
        this.end = e;
      }
      return;
    }
    p = this.definite(p, first, limit);
    this.contentStart = p;
    this.indefinite = false;
  }

  /**
   * Checks every direct child of the value read last, as children() does before its caller looks at
   * any of them, and returns how many there are. The cursor still holds that value afterwards.
   */
  count(): number {
    const { tag, start, contentStart, contentEnd, end, indefinite } = this;
    if ((tag & 0x20) === 0) throw new DerError('expected a constructed ASN.1 value');
    let n = 0;
    for (let p = contentStart; p < contentEnd; n++) {
      this.read(p, contentEnd, 1);
      p = this.end;
    }
    this.tag = tag;
    this.start = start;
    this.contentStart = contentStart;
    this.contentEnd = contentEnd;
    this.end = end;
    this.indefinite = indefinite;
    return n;
  }

  /** Reads the first child of the value read last (count() has checked it). */
  first(): void {
    this.read(this.contentStart, this.contentEnd, 1);
  }

  /** The tag of the value read last (a method, so that narrowing never outlives a read). */
  currentTag(): number {
    return this.tag;
  }

  /** True when the encoding of the value read last equals `expected` byte for byte. */
  equals(expected: Uint8Array): boolean {
    const start = this.start;
    if (this.end - start !== expected.length) return false;
    const buf = this.buf;
    for (let i = 0; i < expected.length; i++) if (buf[start + i] !== expected[i]) return false;
    return true;
  }

  /** The value read last must carry `tag` (expectTag's errors; `present` false is a missing value). */
  expect(present: boolean, tag: number, what: string): void {
    if (!present) throw new DerError(`missing ${what}`);
    if (this.tag !== tag) throw new DerError(`unexpected ASN.1 tag for ${what}`);
  }

  /** readSmallInteger on the value read last. */
  smallInteger(what: string): number {
    if (this.tag !== TAG.INTEGER) throw new DerError(`unexpected ASN.1 tag for ${what}`);
    const buf = this.buf;
    const s = this.contentStart;
    const len = this.contentEnd - s;
    if (len < 1 || len > 4) throw new DerError(`${what} out of range`);
    const first = buf[s]!;
    if (first & 0x80) throw new DerError(`${what} is negative`);
    if (len > 1 && first === 0 && (buf[s + 1]! & 0x80) === 0) throw new DerError(`${what} is not minimally encoded`);
    let v = 0;
    for (let i = s; i < this.contentEnd; i++) v = v * 256 + buf[i]!;
    return v;
  }

  // The definite length after the first length octet at p: the content start. this.end and
  // this.contentEnd are set.
  private definite(p: number, first: number, limit: number): number {
    const buf = this.buf;
    let length: number;
    if (first < 0x80) {
      length = first;
    } else {
      const n = first & 0x7f;
      if (n > 4) throw new DerError('ASN.1 length too large');
      if (p + n > limit) throw new DerError('truncated ASN.1 length');
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + buf[p++]!;
      if (length < 0x80 || length < MINIMAL_LONG_LENGTH[n]!) throw new DerError('non-minimal ASN.1 length');
    }
    const end = p + length;
    if (end > limit) throw new DerError('ASN.1 value runs past its container');
    this.contentEnd = end;
    this.end = end;
    return p;
  }

  // The end (after the end-of-contents octets) of the indefinite-length value whose contents start
  // at p, every value inside it checked as readTlv checks them.
  private walk(p: number, limit: number, depth: number): number {
    const buf = this.buf;
    const start = p - 2;
    for (;;) {
      if (p + 2 > limit) throw new DerError('unterminated indefinite-length ASN.1 value');
      if (buf[p] === 0 && buf[p + 1] === 0) break;
      p = this.skip(p, limit, depth + 1);
    }
    const end = p + 2;
    if (this.walked.length < 3 * 16) this.walked.push(start, end, depth);
    return end;
  }

  // readTlv(buf, pos, limit, depth).end.
  private skip(pos: number, limit: number, depth: number): number {
    const buf = this.buf;
    if (depth > MAX_DEPTH) throw new DerError('ASN.1 nested too deeply');
    if (pos + 2 > limit) throw new DerError('truncated ASN.1 header');
    const tag = buf[pos]!;
    if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte ASN.1 tags are not used here');
    const first = buf[pos + 1]!;
    if (first === 0x80) {
      if ((tag & 0x20) === 0) throw new DerError('indefinite length on a primitive ASN.1 value');
      const end = this.walkedEnd(pos, limit, depth);
      return end >= 0 ? end : this.walk(pos + 2, limit, depth);
    }
    this.definite(pos + 2, first, limit);
    return this.end;
  }

  // A walk of the value at pos already done at this depth or deeper, within this limit, could not
  // fail now: its end, else -1.
  private walkedEnd(pos: number, limit: number, depth: number): number {
    const w = this.walked;
    for (let i = 0; i < w.length; i += 3) {
      if (w[i] === pos) return w[i + 1]! <= limit && depth <= w[i + 2]! ? w[i + 1]! : -1;
    }
    return -1;
  }
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
  return new Date(readTimeMs(buf, tlv.tag, tlv.contentStart, tlv.contentEnd));
}

// Two ASCII digits at i as a number, or -1.
function twoDigits(buf: Uint8Array, i: number): number {
  const a = buf[i]! - 0x30;
  const b = buf[i + 1]! - 0x30;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** readTime on a value given by its tag and content range: milliseconds since the epoch. */
export function readTimeMs(buf: Uint8Array, tag: number, contentStart: number, contentEnd: number): number {
  const len = contentEnd - contentStart;
  let p = contentStart;
  let year: number;
  if (tag === TAG.UTC_TIME) {
    const yy = len === 13 ? twoDigits(buf, p) : -1;
    if (yy < 0 || !digitsThenZ(buf, p + 2, 10)) throw new DerError('malformed UTCTime');
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    p += 2;
  } else if (tag === TAG.GENERALIZED_TIME) {
    const hi = len === 15 ? twoDigits(buf, p) : -1;
    const lo = hi < 0 ? -1 : twoDigits(buf, p + 2);
    if (lo < 0 || !digitsThenZ(buf, p + 4, 10)) throw new DerError('malformed GeneralizedTime');
    year = hi * 100 + lo;
    p += 4;
  } else {
    throw new DerError('expected a UTCTime or GeneralizedTime');
  }
  const month = twoDigits(buf, p);
  const day = twoDigits(buf, p + 2);
  const hour = twoDigits(buf, p + 4);
  const minute = twoDigits(buf, p + 6);
  const second = twoDigits(buf, p + 8);
  // Only real times: no 31 February rolled over into March, no hour 24, no leap second. Date.UTC
  // reads the years 0-99 as 1900-1999, so those (GeneralizedTime only) cannot be represented here.
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (
    year < 100 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!) ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw new DerError('impossible date');
  }
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

// `count` ASCII digits from i, then 'Z' (the caller has checked the total length).
function digitsThenZ(buf: Uint8Array, i: number, count: number): boolean {
  for (let k = i; k < i + count; k++) {
    const c = buf[k]!;
    if (c < 0x30 || c > 0x39) return false;
  }
  return buf[i + count] === 0x5a;
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
