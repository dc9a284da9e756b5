// The addon's one token entry point, token(pool, ...): the same job inline and on the pool, the
// signature-only form for a pending refusal, the messageDigest check that comes before the signature,
// the phase durations it reports, and the arguments that only it has (pool, messageDigest and the
// signed content, phases, the nulls of the signature-only form).
import { describe, expect, it } from 'vitest';
import { native, type MerchantKeyHandle } from '../../lib/native/binding.js';
import { loadRealToken, type RealToken } from './fixtures/native-cms.js';

const ec = loadRealToken('gala-seatgeek-2014');
const rsa = loadRealToken('basistheory-rsa-2024');
const ecSigner = native.importPublicKey(ec.spki);
const rsaSigner = native.importPublicKey(rsa.spki);
const ecKey = native.importKey(ec.keyPem);
const rsaKey = native.importKey(rsa.keyPem);
const any = native as unknown as { token: (...args: unknown[]) => unknown };
const flipped = (b: Buffer) => {
  const c = Buffer.from(b);
  c[c.length - 1]! ^= 1;
  return c;
};

// token()'s signed-content arguments for a real token: its own messageDigest and the bytes it covers.
function content(t: RealToken): [Buffer, Buffer, Buffer, Buffer, Buffer | null] {
  return [t.messageDigest, t.header, t.data, t.transactionId, t.applicationData];
}

type Tail = [MerchantKeyHandle | null, Uint8Array, Uint8Array | null, Uint8Array, Uint8Array, Uint8Array, Uint8Array | null];
// token()'s arguments after `signature`, in its order (key, headerKey, partyV, data, messageDigest,
// transactionId, applicationData), from the signed content [messageDigest, headerKey, data,
// transactionId, applicationData], a key and a partyV.
function tail(parts: readonly unknown[], key: unknown, partyV: unknown): Tail {
  const [messageDigest, headerKey, data, transactionId, applicationData] = parts;
  return [key, headerKey, partyV, data, messageDigest, transactionId, applicationData] as Tail;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('token()', () => {
  it('decrypts the same plaintext inline and on the pool, EC_v1 and RSA_v1', async () => {
    const e = native.token(false, ecSigner, ec.message, ec.signature, ...tail(content(ec), ecKey, ec.partyV))!;
    expect((await native.token(true, ecSigner, ec.message, ec.signature, ...tail(content(ec), ecKey, ec.partyV)))!.equals(e)).toBe(true);
    expect(JSON.parse(e.toString())).toHaveProperty('applicationPrimaryAccountNumber');
    const r = native.token(false, rsaSigner, rsa.message, rsa.signature, ...tail(content(rsa), rsaKey, null))!;
    expect((await native.token(true, rsaSigner, rsa.message, rsa.signature, ...tail(content(rsa), rsaKey, null)))!.equals(r)).toBe(true);
  });

  it('without a merchant key: null once the signature verifies, ERR_SIGNATURE otherwise, nothing decrypted', async () => {
    expect(native.token(false, ecSigner, ec.message, ec.signature, ...tail(content(ec), null, null))).toBeNull();
    expect(await native.token(true, rsaSigner, rsa.message, rsa.signature, ...tail(content(rsa), null, null))).toBeNull();
    expect(codeOf(() => native.token(false, ecSigner, ec.message, flipped(ec.signature), ...tail(content(ec), null, null)))).toBe(
      'ERR_SIGNATURE',
    );
    await expect(native.token(true, ecSigner, ec.message, flipped(ec.signature), ...tail(content(ec), null, null))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE',
    });
    // The signature-only form still checks the digest over the token's bytes, and takes no partyV.
    expect(
      codeOf(() =>
        any.token(false, ecSigner, ec.message, ec.signature, null, null, null, ec.data, ec.messageDigest, ec.transactionId, null),
      ),
    ).toBe('ERR_ARGUMENT');
    expect(
      codeOf(() =>
        any.token(false, ecSigner, ec.message, ec.signature, null, ec.header, null, null, ec.messageDigest, ec.transactionId, null),
      ),
    ).toBe('ERR_ARGUMENT');
    expect(codeOf(() => native.token(false, ecSigner, ec.message, ec.signature, ...tail(content(ec), null, ec.partyV)))).toBe(
      'ERR_ARGUMENT',
    );
  });

  it('reports its phase durations, inline and on the pool', async () => {
    const phases = new Float64Array(2);
    native.token(false, ecSigner, ec.message, ec.signature, ...tail(content(ec), ecKey, ec.partyV), phases);
    expect(phases[0]).toBeGreaterThan(0);
    expect(phases[1]).toBeGreaterThan(0);
    const pooled = new Float64Array(2);
    const pending = native.token(true, ecSigner, ec.message, ec.signature, ...tail(content(ec), ecKey, ec.partyV), pooled);
    expect([...pooled]).toEqual([0, 0]);
    await pending;
    expect(pooled[0]).toBeGreaterThan(0);
    expect(pooled[1]).toBeGreaterThan(0);
    // A refused signature: no decryption phase.
    const refused = new Float64Array([0, 0]);
    expect(
      codeOf(() => native.token(false, ecSigner, ec.message, flipped(ec.signature), ...tail(content(ec), ecKey, ec.partyV), refused)),
    ).toBe('ERR_SIGNATURE');
    expect(refused[0]).toBeGreaterThan(0);
    expect(refused[1]).toBe(0);
  });

  it('a phases array detached while the job runs is left alone', async () => {
    const phases = new Float64Array(2);
    const pending = native.token(true, ecSigner, ec.message, ec.signature, ...tail(content(ec), ecKey, ec.partyV), phases);
    structuredClone(phases.buffer, { transfer: [phases.buffer] });
    expect(phases.length).toBe(0);
    expect(Buffer.isBuffer(await pending)).toBe(true);
  });

  it('refuses a pool flag that is not a boolean, and phases that are not a Float64Array of 2', async () => {
    for (const pool of [undefined, 0, 1, 'true', null]) {
      expect(codeOf(() => any.token(pool, ecSigner, ec.message, ec.signature, ...tail(content(ec), ecKey, ec.partyV)))).toBe(
        'ERR_ARGUMENT',
      );
    }
    for (const phases of [new Float64Array(1), new Float32Array(2), [0, 0], {}, 1]) {
      expect(codeOf(() => any.token(false, ecSigner, ec.message, ec.signature, ...tail(content(ec), ecKey, ec.partyV), phases))).toBe(
        'ERR_ARGUMENT',
      );
      await expect(
        any.token(true, ecSigner, ec.message, ec.signature, ...tail(content(ec), ecKey, ec.partyV), phases),
      ).rejects.toMatchObject({
        code: 'ERR_ARGUMENT',
      });
    }
  });

  it('refuses a signer and a merchant key of different types, and a partyV with an RSA key', () => {
    expect(codeOf(() => native.token(false, ecSigner, ec.message, ec.signature, ...tail(content(rsa), rsaKey, null)))).toBe('ERR_ARGUMENT');
    expect(codeOf(() => native.token(false, rsaSigner, rsa.message, rsa.signature, ...tail(content(ec), ecKey, ec.partyV)))).toBe(
      'ERR_ARGUMENT',
    );
    expect(codeOf(() => native.token(false, rsaSigner, rsa.message, rsa.signature, ...tail(content(rsa), rsaKey, ec.partyV)))).toBe(
      'ERR_ARGUMENT',
    );
    // An EC key needs partyV.
    expect(codeOf(() => native.token(false, ecSigner, ec.message, ec.signature, ...tail(content(ec), ecKey, null)))).toBe('ERR_ARGUMENT');
  });

  describe('the messageDigest over the signed content, checked before the signature', () => {
    const flip = (b: Buffer, at = 0): Buffer => {
      const c = Buffer.from(b);
      c[at]! ^= 0x01;
      return c;
    };
    // Each way the signed content can differ from what the signer hashed.
    const tampered: [string, (t: RealToken) => unknown[]][] = [
      ['messageDigest, first byte', (t) => [flip(t.messageDigest), t.header, t.data, t.transactionId, t.applicationData]],
      ['messageDigest, last byte', (t) => [flip(t.messageDigest, 31), t.header, t.data, t.transactionId, t.applicationData]],
      ['headerKey', (t) => [t.messageDigest, flip(t.header, 40), t.data, t.transactionId, t.applicationData]],
      ['data', (t) => [t.messageDigest, t.header, flip(t.data, t.data.length - 1), t.transactionId, t.applicationData]],
      ['transactionId', (t) => [t.messageDigest, t.header, t.data, flip(t.transactionId, 7), t.applicationData]],
      ['an applicationData the signer did not hash', (t) => [t.messageDigest, t.header, t.data, t.transactionId, Buffer.alloc(32, 1)]],
      ['data cut short', (t) => [t.messageDigest, t.header, t.data.subarray(0, -1), t.transactionId, t.applicationData]],
    ];
    for (const [what, args] of tampered) {
      it(`${what}: ERR_DIGEST inline and on the pool, with and without a merchant key, before the signature`, async () => {
        for (const [t, signer, key, partyV] of [
          [ec, ecSigner, ecKey, ec.partyV],
          [rsa, rsaSigner, rsaKey, null],
        ] as const) {
          for (const withKey of [true, false]) {
            const rest: [unknown, unknown] = withKey ? [key, partyV] : [null, null];
            expect(codeOf(() => any.token(false, signer, t.message, t.signature, ...tail(args(t), ...rest)))).toBe('ERR_DIGEST');
            await expect(any.token(true, signer, t.message, t.signature, ...tail(args(t), ...rest))).rejects.toMatchObject({
              code: 'ERR_DIGEST',
            });
            // A signature that does not verify either: the digest is reported, as it is checked first.
            expect(codeOf(() => any.token(false, signer, t.message, flipped(t.signature), ...tail(args(t), ...rest)))).toBe('ERR_DIGEST');
          }
        }
      });
    }

    it('a digest failure runs no decryption', () => {
      const phases = new Float64Array([0, 0]);
      expect(
        codeOf(() => any.token(false, ecSigner, ec.message, ec.signature, ...tail(tampered[0]![1](ec), ecKey, ec.partyV), phases)),
      ).toBe('ERR_DIGEST');
      expect(phases[1]).toBe(0);
    });

    it('the signed content may come as views at any offset of larger buffers', async () => {
      const at = (b: Buffer, offset: number): Uint8Array => {
        const backing = new Uint8Array(b.length + offset + 5).fill(0xee);
        backing.set(b, offset);
        return backing.subarray(offset, offset + b.length);
      };
      const parts = [at(ec.messageDigest, 3), at(ec.header, 1), at(ec.data, 7), at(ec.transactionId, 2), null];
      const plaintext = native.token(false, ecSigner, ec.message, ec.signature, ...tail(content(ec), ecKey, ec.partyV))!;
      expect(any.token(false, ecSigner, ec.message, ec.signature, ...tail(parts, ecKey, ec.partyV))).toEqual(plaintext);
      expect(await any.token(true, ecSigner, ec.message, ec.signature, ...tail(parts, ecKey, ec.partyV))).toEqual(plaintext);
    });

    it('refuses a messageDigest that is not 32 bytes in a Uint8Array, and missing or detached content, as ERR_ARGUMENT', async () => {
      const detached = (n: number): Uint8Array => {
        const b = new Uint8Array(n);
        structuredClone(b.buffer, { transfer: [b.buffer] });
        return b;
      };
      const badDigests: unknown[] = [
        Buffer.alloc(0),
        ec.messageDigest.subarray(0, 31),
        Buffer.concat([ec.messageDigest, Buffer.of(0)]),
        new Uint16Array(16),
        new Float32Array(8),
        ec.messageDigest.toString('hex'),
        null,
        undefined,
        detached(32),
      ];
      for (const digest of badDigests) {
        for (const rest of [
          [ecKey, ec.partyV],
          [null, null],
        ] as [unknown, unknown][]) {
          expect(
            codeOf(() =>
              any.token(false, ecSigner, ec.message, ec.signature, ...tail([digest, ec.header, ec.data, ec.transactionId, null], ...rest)),
            ),
          ).toBe('ERR_ARGUMENT');
          await expect(
            any.token(true, ecSigner, ec.message, ec.signature, ...tail([digest, ec.header, ec.data, ec.transactionId, null], ...rest)),
          ).rejects.toMatchObject({ code: 'ERR_ARGUMENT' });
        }
      }
      for (const [i, bad] of [
        [5, null],
        [7, null],
        [9, null],
        [5, detached(91)],
        [7, detached(64)],
        [9, detached(32)],
        [10, detached(32)],
        [9, Buffer.alloc(0)],
        [10, 'applicationData'],
      ] as const) {
        const args: unknown[] = [false, ecSigner, ec.message, ec.signature, ...content(ec), ecKey, ec.partyV];
        args[i] = bad;
        expect(
          codeOf(() => any.token(...args)),
          `argument ${i}`,
        ).toBe('ERR_ARGUMENT');
      }
    });
  });
});
