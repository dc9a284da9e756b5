// Canonical decoders for the token's base64 and hex fields.
//
// Buffer.from(s, 'base64') skips junk, accepts the URL-safe alphabet and ignores data after padding;
// Buffer.from(s, 'hex') stops at the first bad character and drops an odd final nibble. Either way a
// tampered field can decode to the same bytes as the original, so two parties would disagree on what
// was signed. Only the canonical encoding of some byte string is accepted here.
import { native } from '../native/binding.js';

/** Standard-alphabet, padded base64 whose unused trailing bits are zero; null when not canonical. */
export function decodeBase64(text: string): Buffer | null {
  const size = text.length;
  if (size % 4 !== 0) return null;
  let padding = 0;
  if (size > 0 && text.charCodeAt(size - 1) === 0x3d) padding = text.charCodeAt(size - 2) === 0x3d ? 2 : 1;
  // The addon decodes and checks in one pass (alphabet, padding, zero unused bits) into the exact
  // size the text claims, and refuses a text whose size does not match `out`: no lenient decoding
  // followed by a re-encoding to compare.
  const out = Buffer.allocUnsafe((size / 4) * 3 - padding);
  return native.decodeBase64Into(text, out) ? out : null;
}

function base64Value(c: number): number {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26;
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52;
  if (c === 0x2b) return 62;
  if (c === 0x2f) return 63;
  return -1;
}

/**
 * The same canonical form as decodeBase64, non-empty, checked without decoding: for secrets the
 * caller keeps as text (the payment's cryptogram), so that no decoded copy is left in memory.
 */
export function isCanonicalBase64(s: string): boolean {
  const n = s.length;
  if (n === 0 || n % 4 !== 0) return false;
  let pad = 0;
  if (s.charCodeAt(n - 1) === 0x3d) pad = s.charCodeAt(n - 2) === 0x3d ? 2 : 1;
  const end = n - pad;
  for (let i = 0; i < end; i++) if (base64Value(s.charCodeAt(i)) < 0) return false;
  if (pad === 0) return true;
  // The last character before the padding carries 4 (one '=': 2) bits that must be zero.
  const last = base64Value(s.charCodeAt(end - 1));
  return pad === 2 ? (last & 0x0f) === 0 : (last & 0x03) === 0;
}

// A digit's value by character code, -1 for anything else (codes >= 128 are refused before lookup).
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let c = 0; c < 10; c++) HEX_VALUE[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX_VALUE[0x41 + c] = 10 + c;
  HEX_VALUE[0x61 + c] = 10 + c;
}

/** Hex digits of either case, an even number of them; null otherwise. */
export function decodeHex(text: string): Buffer | null {
  const size = text.length;
  if ((size & 1) !== 0) return null;
  const out = Buffer.allocUnsafe(size >> 1);
  for (let i = 0, o = 0; i < size; i += 2, o++) {
    const hi = text.charCodeAt(i);
    const lo = text.charCodeAt(i + 1);
    if ((hi | lo) >= 128) return null;
    const h = HEX_VALUE[hi]!;
    const l = HEX_VALUE[lo]!;
    if ((h | l) < 0) return null;
    out[o] = (h << 4) | l;
  }
  return out;
}
