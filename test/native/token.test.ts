// The addon's one token entry point, token(pool, ...): the same job inline and on the pool, the
// signature-only form for a pending refusal, the phase durations it reports, and the arguments that
// only it has (pool, phases, the nulls of the signature-only form).
import { describe, expect, it } from 'vitest';
import { native } from '../../lib/native/binding.js';
import { loadRealToken } from './fixtures/native-cms.js';

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
    const e = native.token(false, ecSigner, ec.message, ec.signature, ecKey, ec.header, ec.partyV, ec.data)!;
    expect((await native.token(true, ecSigner, ec.message, ec.signature, ecKey, ec.header, ec.partyV, ec.data))!.equals(e)).toBe(true);
    expect(JSON.parse(e.toString())).toHaveProperty('applicationPrimaryAccountNumber');
    const r = native.token(false, rsaSigner, rsa.message, rsa.signature, rsaKey, rsa.header, null, rsa.data)!;
    expect((await native.token(true, rsaSigner, rsa.message, rsa.signature, rsaKey, rsa.header, null, rsa.data))!.equals(r)).toBe(true);
  });

  it('without a merchant key: null once the signature verifies, ERR_SIGNATURE otherwise, nothing decrypted', async () => {
    expect(native.token(false, ecSigner, ec.message, ec.signature, null, null, null, null)).toBeNull();
    expect(await native.token(true, rsaSigner, rsa.message, rsa.signature, null, null, null, null)).toBeNull();
    expect(codeOf(() => native.token(false, ecSigner, ec.message, flipped(ec.signature), null, null, null, null))).toBe('ERR_SIGNATURE');
    await expect(native.token(true, ecSigner, ec.message, flipped(ec.signature), null, null, null, null)).rejects.toMatchObject({
      code: 'ERR_SIGNATURE',
    });
    // The signature-only form takes no token bytes: a caller that passes them has mixed up the forms.
    expect(codeOf(() => native.token(false, ecSigner, ec.message, ec.signature, null, ec.header, null, null))).toBe('ERR_ARGUMENT');
    expect(codeOf(() => native.token(false, ecSigner, ec.message, ec.signature, null, null, ec.partyV, null))).toBe('ERR_ARGUMENT');
    expect(codeOf(() => native.token(false, ecSigner, ec.message, ec.signature, null, null, null, ec.data))).toBe('ERR_ARGUMENT');
  });

  it('reports its phase durations, inline and on the pool', async () => {
    const phases = new Float64Array(2);
    native.token(false, ecSigner, ec.message, ec.signature, ecKey, ec.header, ec.partyV, ec.data, phases);
    expect(phases[0]).toBeGreaterThan(0);
    expect(phases[1]).toBeGreaterThan(0);
    const pooled = new Float64Array(2);
    const pending = native.token(true, ecSigner, ec.message, ec.signature, ecKey, ec.header, ec.partyV, ec.data, pooled);
    expect([...pooled]).toEqual([0, 0]);
    await pending;
    expect(pooled[0]).toBeGreaterThan(0);
    expect(pooled[1]).toBeGreaterThan(0);
    // A refused signature: no decryption phase.
    const refused = new Float64Array([0, 0]);
    expect(
      codeOf(() => native.token(false, ecSigner, ec.message, flipped(ec.signature), ecKey, ec.header, ec.partyV, ec.data, refused)),
    ).toBe('ERR_SIGNATURE');
    expect(refused[0]).toBeGreaterThan(0);
    expect(refused[1]).toBe(0);
  });

  it('a phases array detached while the job runs is left alone', async () => {
    const phases = new Float64Array(2);
    const pending = native.token(true, ecSigner, ec.message, ec.signature, ecKey, ec.header, ec.partyV, ec.data, phases);
    structuredClone(phases.buffer, { transfer: [phases.buffer] });
    expect(phases.length).toBe(0);
    expect(Buffer.isBuffer(await pending)).toBe(true);
  });

  it('refuses a pool flag that is not a boolean, and phases that are not a Float64Array of 2', async () => {
    for (const pool of [undefined, 0, 1, 'true', null]) {
      expect(codeOf(() => any.token(pool, ecSigner, ec.message, ec.signature, ecKey, ec.header, ec.partyV, ec.data))).toBe('ERR_ARGUMENT');
    }
    for (const phases of [new Float64Array(1), new Float32Array(2), [0, 0], {}, 1]) {
      expect(codeOf(() => any.token(false, ecSigner, ec.message, ec.signature, ecKey, ec.header, ec.partyV, ec.data, phases))).toBe(
        'ERR_ARGUMENT',
      );
      await expect(any.token(true, ecSigner, ec.message, ec.signature, ecKey, ec.header, ec.partyV, ec.data, phases)).rejects.toMatchObject(
        {
          code: 'ERR_ARGUMENT',
        },
      );
    }
  });

  it('refuses a signer and a merchant key of different types, and a partyV with an RSA key', () => {
    expect(codeOf(() => native.token(false, ecSigner, ec.message, ec.signature, rsaKey, rsa.header, null, rsa.data))).toBe('ERR_ARGUMENT');
    expect(codeOf(() => native.token(false, rsaSigner, rsa.message, rsa.signature, ecKey, ec.header, ec.partyV, ec.data))).toBe(
      'ERR_ARGUMENT',
    );
    expect(codeOf(() => native.token(false, rsaSigner, rsa.message, rsa.signature, rsaKey, rsa.header, ec.partyV, rsa.data))).toBe(
      'ERR_ARGUMENT',
    );
    // An EC key needs partyV.
    expect(codeOf(() => native.token(false, ecSigner, ec.message, ec.signature, ecKey, ec.header, null, ec.data))).toBe('ERR_ARGUMENT');
  });
});
