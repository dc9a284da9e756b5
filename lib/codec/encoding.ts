// Canonical decoders for the token's base64 and hex fields.
//
// Buffer.from(s, 'base64') skips junk, accepts the URL-safe alphabet and ignores data after padding;
// Buffer.from(s, 'hex') stops at the first bad character and drops an odd final nibble. Either way a
// tampered field can decode to the same bytes as the original, so two parties would disagree on what
// was signed. Only the canonical encoding of some byte string is accepted here.

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** Standard-alphabet, padded base64 whose unused trailing bits are zero; null when not canonical. */
export function decodeBase64(text: string): Buffer | null {
  const bytes = Buffer.from(text, 'base64');
  // Buffer's encoder writes only the canonical form, so a text that survives the round trip is
  // canonical; junk, the URL-safe alphabet, missing padding and non-zero padding bits ("QR==" for
  // "QQ==") all come back different. Cheaper on a 3 KB signature than any pattern match.
  if (bytes.toString('base64') !== text) return null;
  return bytes;
}

/** Hex digits of either case, an even number of them; null otherwise. */
export function decodeHex(text: string): Buffer | null {
  if (!HEX.test(text)) return null;
  return Buffer.from(text, 'hex');
}
