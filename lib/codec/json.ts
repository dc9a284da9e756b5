// A strict JSON reader for untrusted input.
//
// JSON.parse keeps the last of duplicate keys (so two parties can read one token differently) and turns
// a `__proto__` key into an own property that later object spreads or merges can promote into a
// prototype. This reader rejects both, bounds nesting depth and object width, and otherwise follows
// RFC 8259's grammar exactly (no comments, no trailing commas, no leading zeros, no raw control
// characters in strings).
import { native } from '../native/binding.js';

export class JsonError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'JsonError';
  }
}

export interface JsonLimits {
  /** Deepest nesting of arrays and objects. */
  maxDepth: number;
  /** Most members in one object or elements in one array. */
  maxEntries: number;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
// Characters a JSON string may not hold raw (RFC 8259 section 7).
const CONTROL_CHAR = /[\u0000-\u001f]/;

/**
 * The member names a caller expects, by length. A key that is one of them comes back as the caller's
 * own constant instead of a fresh slice: V8 would otherwise hash and look up every key in its string
 * table before storing it, about a tenth of the reader's time on a token. Any other key reads as usual.
 */
export class MemberNames {
  readonly #byLength: (string[] | undefined)[] = [];

  constructor(names: Iterable<string>) {
    for (const name of names) (this.#byLength[name.length] ??= []).push(name);
  }

  /** The expected name spelled at text[start, end), or undefined. */
  find(text: string, start: number, end: number): string | undefined {
    const candidates = this.#byLength[end - start];
    if (candidates !== undefined) for (const name of candidates) if (text.startsWith(name, start)) return name;
    return undefined;
  }
}

export interface JsonOptions extends JsonLimits {
  readonly memberNames?: MemberNames;
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
// From this size on, one native pass over the whole text answers "any control character at all?"
// faster than a regular expression over each string (a token is 3-4 KB of base64 in a few strings).
const WHOLE_TEXT_SCAN = 256;

export function parseStrictJson(text: string, limits: JsonOptions): JsonValue {
  const reader = new Reader(text, limits);
  reader.skipWhitespace();
  const value = reader.value(0);
  reader.skipWhitespace();
  if (reader.pos !== text.length) reader.fail('unexpected data after the JSON value');
  return value;
}

class Reader {
  pos = 0;
  // The first backslash at or after some position at or before the current string: a string ends
  // before it or holds an escape. One search for the whole text instead of one to its end per string.
  private nextBackslash: number;
  // False once the whole text is known to hold no code unit below U+0020, so no string can.
  private readonly mayHoldControl: boolean;

  constructor(
    private readonly text: string,
    private readonly limits: JsonOptions,
  ) {
    this.nextBackslash = text.indexOf('\\');
    this.mayHoldControl = text.length < WHOLE_TEXT_SCAN || native.mayHoldControlCharacters(text);
  }

  fail(message: string): never {
    throw new JsonError(message, this.pos);
  }

  skipWhitespace(): void {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  value(depth: number): JsonValue {
    const c = this.text.charCodeAt(this.pos);
    switch (c) {
      case 0x7b: // {
        return this.object(depth + 1);
      case 0x5b: // [
        return this.array(depth + 1);
      case 0x22: // "
        return this.string();
      case 0x74: // t
        return this.literal('true', true);
      case 0x66: // f
        return this.literal('false', false);
      case 0x6e: // n
        return this.literal('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        return this.fail(Number.isNaN(c) ? 'unexpected end of JSON' : 'unexpected character in JSON');
    }
  }

  private literal<T>(word: string, result: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail('invalid JSON literal');
    this.pos += word.length;
    return result;
  }

  // RFC 8259 section 6: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, the longest such prefix; a
  // fraction or exponent without digits is left unread, for the caller to refuse what follows.
  private number(): number {
    const t = this.text;
    const start = this.pos;
    let p = start;
    if (t.charCodeAt(p) === 0x2d) p++;
    const first = t.charCodeAt(p);
    if (first === 0x30) p++;
    else if (first >= 0x31 && first <= 0x39) while (isDigit(t.charCodeAt(++p)));
    else return this.fail('invalid JSON number');
    if (t.charCodeAt(p) === 0x2e && isDigit(t.charCodeAt(p + 1))) while (isDigit(t.charCodeAt(++p)));
    const e = t.charCodeAt(p);
    if (e === 0x65 || e === 0x45) {
      let q = p + 1;
      const sign = t.charCodeAt(q);
      if (sign === 0x2b || sign === 0x2d) q++;
      if (isDigit(t.charCodeAt(q))) {
        while (isDigit(t.charCodeAt(++q)));
        p = q;
      }
    }
    this.pos = p;
    const n = Number(t.slice(start, p));
    if (!Number.isFinite(n)) this.fail('JSON number out of range');
    return n;
  }

  // A member name: the caller's constant for an expected one without escapes, otherwise as any string.
  private key(): string {
    const names = this.limits.memberNames;
    if (names !== undefined) {
      const start = this.pos + 1;
      const close = this.text.indexOf('"', start);
      const name = close < 0 ? undefined : names.find(this.text, start, close);
      if (name !== undefined) {
        this.pos = close + 1;
        return name;
      }
    }
    return this.string();
  }

  string(): string {
    const t = this.text;
    const start = this.pos + 1;
    const close = t.indexOf('"', start);
    if (close < 0) return this.fail('unterminated JSON string');
    let backslash = this.nextBackslash;
    if (backslash >= 0 && backslash < start) backslash = this.nextBackslash = t.indexOf('\\', start);
    // Tokens are mostly long base64 and hex strings without escapes: take them in one slice.
    if (backslash < 0 || backslash > close) {
      const s = t.slice(start, close);
      if (this.mayHoldControl && CONTROL_CHAR.test(s)) this.fail('control character in JSON string');
      this.pos = close + 1;
      return s;
    }
    return this.escapedString(start);
  }

  private escapedString(start: number): string {
    const t = this.text;
    let out = '';
    let p = start;
    let chunk = p;
    for (;;) {
      if (p >= t.length) return this.fail('unterminated JSON string');
      const c = t.charCodeAt(p);
      if (c === 0x22) break;
      if (c < 0x20) {
        this.pos = p;
        this.fail('control character in JSON string');
      }
      if (c !== 0x5c) {
        p++;
        continue;
      }
      out += t.slice(chunk, p);
      const e = t.charCodeAt(p + 1);
      switch (e) {
        case 0x22:
          out += '"';
          break;
        case 0x5c:
          out += '\\';
          break;
        case 0x2f:
          out += '/';
          break;
        case 0x62:
          out += '\b';
          break;
        case 0x66:
          out += '\f';
          break;
        case 0x6e:
          out += '\n';
          break;
        case 0x72:
          out += '\r';
          break;
        case 0x74:
          out += '\t';
          break;
        case 0x75: {
          const hex = t.slice(p + 2, p + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.pos = p;
            this.fail('invalid \\u escape in JSON string');
          }
          out += String.fromCharCode(parseInt(hex, 16));
          p += 4;
          break;
        }
        default:
          this.pos = p;
          this.fail('invalid escape in JSON string');
      }
      p += 2;
      chunk = p;
    }
    out += t.slice(chunk, p);
    this.pos = p + 1;
    return out;
  }

  private enter(depth: number): void {
    if (depth > this.limits.maxDepth) this.fail('JSON nested too deeply');
    this.pos++;
    this.skipWhitespace();
  }

  private object(depth: number): { [key: string]: JsonValue } {
    this.enter(depth);
    // An ordinary object is safe here because the prototype keys are refused before any assignment.
    const out: { [key: string]: JsonValue } = {};
    let size = 0;
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return out;
    }
    for (;;) {
      if (this.text.charCodeAt(this.pos) !== 0x22) this.fail('expected a string key in JSON object');
      const keyAt = this.pos;
      const key = this.key();
      if (FORBIDDEN_KEYS.has(key)) {
        this.pos = keyAt;
        this.fail('forbidden key in JSON object');
      }
      // Own properties only: "toString" is no duplicate just because Object.prototype has one.
      if (Object.hasOwn(out, key)) {
        this.pos = keyAt;
        this.fail('duplicate key in JSON object');
      }
      if (++size > this.limits.maxEntries) this.fail('too many keys in JSON object');
      this.skipWhitespace();
      if (this.text.charCodeAt(this.pos) !== 0x3a) this.fail("expected ':' in JSON object");
      this.pos++;
      this.skipWhitespace();
      out[key] = this.value(depth);
      this.skipWhitespace();
      const c = this.text.charCodeAt(this.pos);
      this.pos++;
      if (c === 0x7d) return out;
      if (c !== 0x2c) {
        this.pos--;
        this.fail("expected ',' or '}' in JSON object");
      }
      this.skipWhitespace();
    }
  }

  private array(depth: number): JsonValue[] {
    this.enter(depth);
    const out: JsonValue[] = [];
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      if (out.length > this.limits.maxEntries) this.fail('too many elements in JSON array');
      this.skipWhitespace();
      const c = this.text.charCodeAt(this.pos);
      this.pos++;
      if (c === 0x5d) return out;
      if (c !== 0x2c) {
        this.pos--;
        this.fail("expected ',' or ']' in JSON array");
      }
      this.skipWhitespace();
    }
  }
}
