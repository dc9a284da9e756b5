// The tests' one BER reader: an oracle independent of lib/codec's DER reader, so that a test which
// takes a token apart to check the library does not share the library's bugs. Single-byte tags,
// definite lengths of up to four bytes, and indefinite lengths (Apple's outer CMS layers use them).
// It checks bounds and nothing else: it reads what the tests mint and what Apple sends, leniently.

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  contentStart: number;
  contentEnd: number;
  /** Offset just past the element (past the end-of-contents octets of an indefinite length). */
  end: number;
}

export class BerOracleError extends Error {}

/** One TLV at `pos`. */
export function tlvAt(buf: Uint8Array, pos: number): Tlv {
  if (pos + 2 > buf.length) throw new BerOracleError(`no TLV header at ${pos}`);
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw new BerOracleError(`multi-byte tag at ${pos}`);
  const first = buf[pos + 1]!;
  if (first === 0x80) {
    let p = pos + 2;
    while (!(buf[p] === 0 && buf[p + 1] === 0)) {
      if (p >= buf.length) throw new BerOracleError(`unterminated indefinite length at ${pos}`);
      p = tlvAt(buf, p).end;
    }
    return { tag, start: pos, contentStart: pos + 2, contentEnd: p, end: p + 2 };
  }
  let length = first;
  let header = 2;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n > 4) throw new BerOracleError(`length of ${n} bytes at ${pos}`);
    if (pos + 2 + n > buf.length) throw new BerOracleError(`truncated length at ${pos}`);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[pos + 2 + i]!;
    header += n;
  }
  const end = pos + header + length;
  if (end > buf.length) throw new BerOracleError(`value past the end at ${pos}`);
  return { tag, start: pos, contentStart: pos + header, contentEnd: end, end };
}

/** The elements inside a constructed one. */
export function childrenOf(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.contentStart; p < parent.contentEnd;) {
    const child = tlvAt(buf, p);
    out.push(child);
    p = child.end;
  }
  return out;
}

/** The element reached from the root by child indices: at(buf, 1, 0) is the root's second child's first. */
export function at(buf: Uint8Array, ...path: number[]): Tlv {
  let node = tlvAt(buf, 0);
  for (const [depth, i] of path.entries()) {
    const child = childrenOf(buf, node)[i];
    if (child === undefined) throw new BerOracleError(`no child ${i} at depth ${depth}`);
    node = child;
  }
  return node;
}

/** The content octets of an element. */
export function contentOf(buf: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + t.contentStart, t.contentEnd - t.contentStart);
}

/** The whole encoding of an element, tag and length included. */
export function encodingOf(buf: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + t.start, t.end - t.start);
}

/**
 * The extnValue of a certificate extension, found by its DER-encoded OID (06 len ...) followed by an
 * optional critical BOOLEAN: the OCTET STRING element after them.
 */
export function extensionValue(der: Uint8Array, oidTlv: Uint8Array): Tlv | undefined {
  const at = Buffer.from(der.buffer, der.byteOffset, der.length).indexOf(Buffer.from(oidTlv));
  if (at < 0) return undefined;
  let t = tlvAt(der, at + oidTlv.length);
  if (t.tag === 0x01) t = tlvAt(der, t.end);
  return t.tag === 0x04 ? t : undefined;
}
