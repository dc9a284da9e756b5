// Hostile inputs that must be refused before any expensive work: oversized tokens, huge OIDs, deep
// nesting, wide objects. Shared by test/adversarial/bounds.test.ts (which asserts the verdicts) and
// bench/refusals.ts (which times them), so both speak about the same inputs.
import type { ErrorCode } from '../../lib/errors.js';
import * as der from '../../test-vectors/gen/der.js';
import { mintToken, type PaymentData, type TestPki } from '../../test-vectors/gen/token.js';

export interface HostileInput {
  name: string;
  /** The code the library must refuse it with. */
  code: ErrorCode;
  /** A verifier option the case needs (a raised cap, to reach the check behind the size cap). */
  maxTokenBytes?: number;
  /** Builds the input; `i` varies it where a cache would otherwise answer repeated runs. */
  build(i: number): unknown;
}

const MiB = 1024 * 1024;

/** An OBJECT IDENTIFIER of about `bytes` bytes: 1.2 followed by arcs of 2^(7k) - 1. */
export function hugeOid(bytes: number, lastArc = 1): Buffer {
  const content = Buffer.alloc(bytes, 0xff);
  content[0] = 0x2a;
  content[bytes - 1] = lastArc & 0x7f;
  return der.tlv(0x06, content);
}

/** `depth` nested SEQUENCEs, indefinite-length (2 bytes in, 2 out per level) or definite. */
export function nestedSequences(depth: number, indefinite: boolean): Buffer {
  if (indefinite) return Buffer.concat([Buffer.alloc(depth * 2).fill(Buffer.from([0x30, 0x80])), Buffer.alloc(depth * 2)]);
  let inner: Buffer = Buffer.from([0x05, 0x00]);
  for (let i = 0; i < depth; i++) inner = der.sequence([inner]);
  return inner;
}

function keys(n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) out[i.toString(36)] = 0;
  return out;
}

function nestedArrays(depth: number): unknown {
  let v: unknown = 'x';
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

export function hostileInputs(pki: TestPki, base: PaymentData): HostileInput[] {
  const b64 = (bytes: Buffer) => bytes.toString('base64');
  const withSignature = (bytes: Buffer) => ({ ...base, signature: b64(bytes) });
  const header = (extra: Record<string, unknown>) => ({ ...base, header: { ...base.header, ...extra } });
  return [
    { name: '10 MiB token (JSON text)', code: 'TOKEN_TOO_LARGE', build: () => JSON.stringify({ ...base, pad: 'A'.repeat(10 * MiB) }) },
    {
      name: '10 MiB token (Buffer)',
      code: 'TOKEN_TOO_LARGE',
      build: () => Buffer.from(JSON.stringify({ ...base, pad: 'A'.repeat(10 * MiB) })),
    },
    { name: '10 MiB data field (parsed object)', code: 'TOKEN_TOO_LARGE', build: () => ({ ...base, data: 'A'.repeat(10 * MiB) }) },
    { name: 'signature holding a 16 KiB OID', code: 'TOKEN_TOO_LARGE', build: () => withSignature(der.sequence([hugeOid(16 * 1024)])) },
    {
      name: 'signature with a 6 KiB OID as contentType (under the signature cap)',
      code: 'SIGNATURE_MALFORMED',
      build: (i) => withSignature(der.sequence([hugeOid(6 * 1024, i), der.explicit(0, der.sequence([der.integer(1)]))])),
    },
    {
      // The one place a huge OID reaches a general ASN.1 parser (pkijs, for certificates).
      name: 'a 5 KiB OID in place of the leaf certificate (under the signature cap)',
      code: 'SIGNATURE_MALFORMED',
      build: (i) =>
        mintToken(pki, {
          version: 'EC_v1',
          signingTime: new Date(),
          certificates: [der.sequence([der.sequence([hugeOid(5 * 1024, i)])]), pki.intermediate.certDer],
        }).paymentData,
    },
    { name: 'signature of 10,000 nested SEQUENCEs', code: 'TOKEN_TOO_LARGE', build: () => withSignature(nestedSequences(10_000, true)) },
    {
      name: 'signature of 2,000 nested SEQUENCEs (under the cap)',
      code: 'SIGNATURE_MALFORMED',
      build: () => withSignature(nestedSequences(2_000, true)),
    },
    {
      name: 'signature of 1,000 nested definite-length SEQUENCEs',
      code: 'SIGNATURE_MALFORMED',
      build: () => withSignature(nestedSequences(1_000, false)),
    },
    {
      name: '1 MiB transactionId (JSON text)',
      code: 'TOKEN_TOO_LARGE',
      build: () => JSON.stringify(header({ transactionId: 'ab'.repeat(MiB / 2) })),
    },
    { name: '1 MiB transactionId (parsed object)', code: 'TOKEN_TOO_LARGE', build: () => header({ transactionId: 'ab'.repeat(MiB / 2) }) },
    { name: '100,000-key object (JSON text)', code: 'TOKEN_TOO_LARGE', build: () => JSON.stringify({ ...base, ...keys(100_000) }) },
    {
      name: '100,000-key object (JSON text, maxTokenBytes 1 MiB)',
      code: 'TOKEN_MALFORMED',
      maxTokenBytes: MiB,
      build: () => JSON.stringify({ ...base, ...keys(100_000) }),
    },
    { name: '100,000-key object (parsed object)', code: 'TOKEN_MALFORMED', build: () => ({ ...base, ...keys(100_000) }) },
    { name: '100,000-key header (parsed object)', code: 'TOKEN_MALFORMED', build: () => header(keys(100_000)) },
    {
      name: '10,000-deep JSON arrays (JSON text)',
      code: 'TOKEN_MALFORMED',
      build: () => JSON.stringify({ ...base, deep: '@' }).replace('"@"', `${'['.repeat(10_000)}1${']'.repeat(10_000)}`),
    },
    { name: '10,000-deep arrays (parsed object)', code: 'TOKEN_MALFORMED', build: () => ({ ...base, deep: nestedArrays(10_000) }) },
  ];
}
