/**
 * A small DER/BER encoder (plus a minimal TLV reader) for the test generator.
 *
 * Everything returns plain Buffers so a test can splice, corrupt or re-wrap any
 * element. Builders always produce valid DER unless asked otherwise: the
 * `indefinite` option emits BER indefinite-length constructed encodings, the
 * form Apple uses on the outer layers of a token's CMS.
 *
 * Only low tag numbers (0..30) are supported: nothing in X.509 or CMS needs more.
 */

/** Identifier-octet building blocks. */
export const TagClass = {
  universal: 0x00,
  application: 0x40,
  context: 0x80,
  private: 0xc0,
} as const;

export const CONSTRUCTED = 0x20;

/** Universal tag numbers used here. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8String: 0x0c,
  SEQUENCE: 0x10,
  SET: 0x11,
  PrintableString: 0x13,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
} as const;

export interface ConstructedOptions {
  /** Emit `tag 80 ... 00 00` (BER) instead of a definite length. */
  indefinite?: boolean;
}

export function encodeLength(length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`bad length ${length}`);
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Encode one TLV from a complete identifier octet and the value bytes. */
export function tlv(identifier: number, value: Buffer | readonly Buffer[], opts: ConstructedOptions = {}): Buffer {
  if (identifier < 0 || identifier > 0xff || (identifier & 0x1f) === 0x1f) {
    throw new RangeError(`identifier 0x${identifier.toString(16)} not supported (high tag numbers)`);
  }
  const content = Buffer.isBuffer(value) ? value : Buffer.concat(value);
  if (opts.indefinite) {
    // BER forbids the indefinite form on primitive encodings.
    if (!(identifier & CONSTRUCTED)) throw new Error('indefinite length requires a constructed encoding');
    return Buffer.concat([Buffer.from([identifier, 0x80]), content, Buffer.from([0, 0])]);
  }
  return Buffer.concat([Buffer.from([identifier]), encodeLength(content.length), content]);
}

export function sequence(items: readonly Buffer[], opts: ConstructedOptions = {}): Buffer {
  return tlv(CONSTRUCTED | Tag.SEQUENCE, items, opts);
}

/**
 * SET / SET OF. DER requires SET OF elements sorted by their encodings (X.690 11.6);
 * `sort: false` keeps the caller's order, which BER allows and real CMS certificate
 * sets rely on.
 */
export function set(items: readonly Buffer[], opts: ConstructedOptions & { sort?: boolean } = {}): Buffer {
  return tlv(CONSTRUCTED | Tag.SET, opts.sort === false ? items : sortDer(items), opts);
}

/** X.690 11.6 ordering: compare as octet strings, the shorter padded with zeros at the end. */
export function sortDer(items: readonly Buffer[]): Buffer[] {
  return [...items].sort((a, b) => {
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const d = (a[i] ?? 0) - (b[i] ?? 0);
      if (d !== 0) return d;
    }
    return 0;
  });
}

/**
 * INTEGER. A bigint or number is encoded in minimal two's complement. A Buffer is
 * taken as an unsigned big-endian magnitude (the way serials and key ids are held):
 * leading zeros are stripped and one 0x00 added back if the top bit is set.
 */
export function integer(value: bigint | number | Buffer): Buffer {
  if (Buffer.isBuffer(value)) {
    let i = 0;
    while (i < value.length - 1 && value[i] === 0) i++;
    let mag = value.subarray(i);
    if (mag.length === 0) mag = Buffer.from([0]);
    if ((mag[0] ?? 0) & 0x80) mag = Buffer.concat([Buffer.from([0]), mag]);
    return tlv(Tag.INTEGER, mag);
  }
  return tlv(Tag.INTEGER, bigintToTwosComplement(BigInt(value)));
}

/** INTEGER with exactly these content bytes: for non-minimal or negative encodings in negative tests. */
export function integerRaw(content: Buffer): Buffer {
  return tlv(Tag.INTEGER, content);
}

function bigintToTwosComplement(v: bigint): Buffer {
  const bytes: number[] = [];
  let n = v;
  // Emit bytes until the remaining value is pure sign extension of the last byte.
  for (;;) {
    const byte = Number(BigInt.asUintN(8, n));
    bytes.unshift(byte);
    n >>= 8n;
    if ((n === 0n && !(byte & 0x80)) || (n === -1n && byte & 0x80)) break;
  }
  return Buffer.from(bytes);
}

export function oid(dotted: string): Buffer {
  return tlv(Tag.OID, oidContent(dotted));
}

export function oidContent(dotted: string): Buffer {
  const arcs = dotted.split('.').map((s) => {
    if (!/^\d+$/.test(s)) throw new Error(`bad OID ${dotted}`);
    return BigInt(s);
  });
  const [a0, a1, ...rest] = arcs;
  if (a0 === undefined || a1 === undefined || a0 > 2n || (a0 < 2n && a1 > 39n)) throw new Error(`bad OID ${dotted}`);
  const out: number[] = [];
  for (const arc of [a0 * 40n + a1, ...rest]) {
    const group: number[] = [Number(arc & 0x7fn)];
    for (let n = arc >> 7n; n > 0n; n >>= 7n) group.unshift(Number(n & 0x7fn) | 0x80);
    out.push(...group);
  }
  return Buffer.from(out);
}

export function octetString(value: Buffer): Buffer {
  return tlv(Tag.OCTET_STRING, value);
}

export function utf8String(value: string): Buffer {
  return tlv(Tag.UTF8String, Buffer.from(value, 'utf8'));
}

export function printableString(value: string): Buffer {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value)) throw new Error(`not printable: ${value}`);
  return tlv(Tag.PrintableString, Buffer.from(value, 'latin1'));
}

export function ia5String(value: string): Buffer {
  if (!/^[\x00-\x7f]*$/.test(value)) throw new Error(`not IA5: ${value}`);
  return tlv(Tag.IA5String, Buffer.from(value, 'latin1'));
}

export function boolean(value: boolean): Buffer {
  return tlv(Tag.BOOLEAN, Buffer.from([value ? 0xff : 0x00]));
}

export function nullValue(): Buffer {
  return Buffer.from([Tag.NULL, 0x00]);
}

export function bitString(value: Buffer, unusedBits = 0): Buffer {
  if (unusedBits < 0 || unusedBits > 7) throw new RangeError('unusedBits 0..7');
  return tlv(Tag.BIT_STRING, Buffer.concat([Buffer.from([unusedBits]), value]));
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function checkWholeSeconds(date: Date): void {
  if (Number.isNaN(date.getTime())) throw new Error('invalid date');
  // Both DER time types forbid fractional seconds here; truncating silently would
  // make a test's expected time differ from the encoded one.
  if (date.getTime() % 1000 !== 0) throw new Error(`time ${date.toISOString()} has milliseconds`);
}

/** UTCTime YYMMDDHHMMSSZ; only years 1950..2049 are representable. */
export function utcTime(date: Date): Buffer {
  checkWholeSeconds(date);
  const y = date.getUTCFullYear();
  if (y < 1950 || y > 2049) throw new RangeError(`UTCTime cannot hold year ${y}`);
  return tlv(Tag.UTCTime, Buffer.from(pad(y % 100) + monthToSecondZ(date), 'latin1'));
}

/** GeneralizedTime YYYYMMDDHHMMSSZ. */
export function generalizedTime(date: Date): Buffer {
  checkWholeSeconds(date);
  return tlv(Tag.GeneralizedTime, Buffer.from(pad(date.getUTCFullYear(), 4) + monthToSecondZ(date), 'latin1'));
}

/** MMDDHHMMSSZ: what UTCTime and GeneralizedTime share after the year. */
function monthToSecondZ(date: Date): string {
  return (
    pad(date.getUTCMonth() + 1) +
    pad(date.getUTCDate()) +
    pad(date.getUTCHours()) +
    pad(date.getUTCMinutes()) +
    pad(date.getUTCSeconds()) +
    'Z'
  );
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
export function x509Time(date: Date): Buffer {
  return date.getUTCFullYear() < 2050 ? utcTime(date) : generalizedTime(date);
}

/** [n] EXPLICIT: a constructed context tag wrapping complete encodings. */
export function explicit(tagNumber: number, inner: Buffer | readonly Buffer[], opts: ConstructedOptions = {}): Buffer {
  return tlv(TagClass.context | CONSTRUCTED | tagNumber, inner, opts);
}

/**
 * [n] IMPLICIT: replaces the tag of the underlying type. `content` is the value
 * octets of that type (for a SET OF, the concatenated elements).
 */
export function implicit(
  tagNumber: number,
  content: Buffer | readonly Buffer[],
  constructed: boolean,
  opts: ConstructedOptions = {},
): Buffer {
  return tlv(TagClass.context | (constructed ? CONSTRUCTED : 0) | tagNumber, content, opts);
}

/** Re-tag an encoded element as [n] IMPLICIT, keeping its constructed bit and its value. */
export function retagImplicit(tagNumber: number, encoded: Buffer): Buffer {
  const el = readTlv(encoded, 0);
  return implicit(tagNumber, el.value, el.constructed);
}

// ---------------------------------------------------------------------------
// Reader: just enough to pull issuer, serial and public-key bits out of
// certificates the generator did not build itself (DER input only).

export interface TlvElement {
  identifier: number;
  constructed: boolean;
  /** Offset of the identifier octet in the buffer. */
  start: number;
  /** Offset just past the element. */
  end: number;
  /** The value octets. */
  value: Buffer;
  /** The complete encoding (identifier, length, value). */
  encoded: Buffer;
}

export function readTlv(buf: Buffer, offset: number): TlvElement {
  const identifier = buf[offset];
  const first = buf[offset + 1];
  if (identifier === undefined || first === undefined) throw new Error('truncated TLV');
  if ((identifier & 0x1f) === 0x1f) throw new Error('high tag numbers not supported');
  let len: number;
  let hdr = 2;
  if (first < 0x80) {
    len = first;
  } else {
    const n = first & 0x7f;
    if (n === 0) throw new Error('indefinite length not supported by readTlv (DER only)');
    if (n > 4) throw new Error('length too long');
    len = 0;
    for (let i = 0; i < n; i++) {
      const b = buf[offset + 2 + i];
      if (b === undefined) throw new Error('truncated length');
      len = len * 256 + b;
    }
    hdr += n;
  }
  const end = offset + hdr + len;
  if (end > buf.length) throw new Error('truncated value');
  return {
    identifier,
    constructed: (identifier & CONSTRUCTED) !== 0,
    start: offset,
    end,
    value: buf.subarray(offset + hdr, end),
    encoded: buf.subarray(offset, end),
  };
}

/** The direct children of a constructed DER element. */
export function children(el: TlvElement): TlvElement[] {
  const out: TlvElement[] = [];
  for (let off = 0; off < el.value.length;) {
    const c = readTlv(el.value, off);
    out.push(c);
    off = c.end;
  }
  return out;
}
