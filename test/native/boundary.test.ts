// The addon's edges: every wrong JavaScript value, size and key a caller can hand it, every
// encoding of an ephemeral key other than the one Apple uses, truncated tags, key formats and
// PKCS#12 variants. Each failure asserts its native code; none may crash the process or leave
// OpenSSL errors behind for node:crypto.
import {
  createCipheriv,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  getCiphers,
  publicEncrypt,
  constants as cryptoConstants,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { expectCode } from '../support/expect-code.js';
import { native, type MerchantKeyHandle } from '../../lib/native/binding.js';
import { NOT_BYTES, detachedView } from './fixtures/native-inputs.js';
import { loadRealToken } from './fixtures/native-cms.js';
import { tokenCalls } from './fixtures/native-compat.mjs';

const FIXTURES = fileURLToPath(new URL('../../test-vectors/native/', import.meta.url));
const REAL = fileURLToPath(new URL('../../test-vectors/real/', import.meta.url));
const fixture = (name: string): Buffer => readFileSync(FIXTURES + name);
const PASS = Buffer.from('correct horse');
const MAX_INPUT = 1024 * 1024;

function loadToken(name: string): { token: Record<string, any>; partyV: Buffer; keyPem: Buffer } {
  const token = JSON.parse(readFileSync(`${REAL}${name}/token.json`, 'utf8')) as Record<string, any>;
  const meta = JSON.parse(readFileSync(`${REAL}${name}/meta.json`, 'utf8')) as { merchantIdHashHex: string };
  return { token, partyV: Buffer.from(meta.merchantIdHashHex, 'hex'), keyPem: readFileSync(`${REAL}${name}/merchant_key.TEST-KEY.pem`) };
}

// The decryption edges below run through token() behind a real token's verifying signature.
const signerOf = (name: string) => {
  const t = loadRealToken(name);
  return { signer: native.importPublicKey(t.spki), message: t.message, signature: t.signature };
};
const calls = tokenCalls(native, { ec: signerOf('gala-seatgeek-2014'), rsa: signerOf('basistheory-rsa-2024') });
const anyCalls = calls as unknown as Record<string, (...args: unknown[]) => unknown>;

const gala = loadToken('gala-seatgeek-2014');
const ecKey = native.importKey(gala.keyPem);
const EPH = Buffer.from(gala.token.header.ephemeralPublicKey as string, 'base64');
const EC_DATA = Buffer.from(gala.token.data as string, 'base64');
const EC_PLAIN = calls.decryptEC(ecKey, EPH, gala.partyV, EC_DATA);

const bt = loadToken('basistheory-rsa-2024');
const rsaKey = native.importKey(bt.keyPem);
const WRAPPED = Buffer.from(bt.token.header.wrappedKey as string, 'base64');
const RSA_DATA = Buffer.from(bt.token.data as string, 'base64');
const RSA_PLAIN = calls.decryptRSA(rsaKey, WRAPPED, RSA_DATA);

const any = native as unknown as Record<string, (...args: unknown[]) => unknown>;

describe('JavaScript argument checks (ERR_ARGUMENT)', () => {
  it('every function refuses non-Uint8Array byte arguments', () => {
    for (const [label, bad] of NOT_BYTES) {
      const cases: [string, () => unknown][] = [
        ['importKey data', () => any.importKey!(bad)],
        ['decryptEC eph', () => anyCalls.decryptEC!(ecKey, bad, gala.partyV, EC_DATA)],
        ['decryptEC partyV', () => anyCalls.decryptEC!(ecKey, EPH, bad, EC_DATA)],
        ['decryptEC data', () => anyCalls.decryptEC!(ecKey, EPH, gala.partyV, bad)],
        ['decryptRSA wrapped', () => anyCalls.decryptRSA!(rsaKey, bad, RSA_DATA)],
        ['decryptRSA data', () => anyCalls.decryptRSA!(rsaKey, WRAPPED, bad)],
        ['ecdh', () => any.ecdh!(ecKey, bad)],
        ['kdf z', () => any.kdf!(bad, gala.partyV)],
        ['kdf partyV', () => any.kdf!(Buffer.alloc(32), bad)],
        ['aes key', () => any.aesGcmDecrypt!(bad, Buffer.alloc(16), Buffer.alloc(0), Buffer.alloc(1), Buffer.alloc(16))],
        ['aes iv', () => any.aesGcmDecrypt!(Buffer.alloc(16), bad, Buffer.alloc(0), Buffer.alloc(1), Buffer.alloc(16))],
        ['aes aad', () => any.aesGcmDecrypt!(Buffer.alloc(16), Buffer.alloc(16), bad, Buffer.alloc(1), Buffer.alloc(16))],
        ['aes ct', () => any.aesGcmDecrypt!(Buffer.alloc(16), Buffer.alloc(16), Buffer.alloc(0), bad, Buffer.alloc(16))],
        ['aes tag', () => any.aesGcmDecrypt!(Buffer.alloc(16), Buffer.alloc(16), Buffer.alloc(0), Buffer.alloc(1), bad)],
        ['oaep ct', () => any.rsaOaepDecrypt!(rsaKey, bad, Buffer.alloc(0))],
        ['oaep label', () => any.rsaOaepDecrypt!(rsaKey, WRAPPED, bad)],
      ];
      for (const [name, fn] of cases) {
        try {
          fn();
          expect.fail(`${name} accepted ${label}`);
        } catch (err) {
          expect(err, `${name} with ${label}`).toMatchObject({ code: 'ERR_ARGUMENT' });
        }
      }
    }
  });

  it('importKey refuses a passphrase of the wrong type, but takes undefined and null as "none"', () => {
    for (const [, bad] of NOT_BYTES.filter(([l]) => l !== 'undefined' && l !== 'null')) {
      expectCode(() => any.importKey!(gala.keyPem, bad), 'ERR_ARGUMENT');
    }
    expect(native.importKey(gala.keyPem, undefined).type).toBe('ec');
    expect(native.importKey(gala.keyPem, null).type).toBe('ec');
  });

  it('empty buffers are refused where bytes are required, accepted for aad, ciphertext and label', () => {
    const empty = new Uint8Array(0);
    expectCode(() => native.importKey(empty), 'ERR_ARGUMENT');
    expectCode(() => calls.decryptEC(ecKey, empty, gala.partyV, EC_DATA), 'ERR_ARGUMENT');
    expectCode(() => calls.decryptEC(ecKey, EPH, empty, EC_DATA), 'ERR_ARGUMENT');
    expectCode(() => calls.decryptEC(ecKey, EPH, gala.partyV, empty), 'ERR_ARGUMENT');
    expectCode(() => calls.decryptRSA(rsaKey, empty, RSA_DATA), 'ERR_ARGUMENT');
    expectCode(() => calls.decryptRSA(rsaKey, WRAPPED, empty), 'ERR_ARGUMENT');
    expectCode(() => native.ecdh(ecKey, empty), 'ERR_ARGUMENT');
    expectCode(() => native.kdf(empty, gala.partyV), 'ERR_ARGUMENT');
    expectCode(() => native.aesGcmDecrypt(Buffer.alloc(16), empty, empty, empty, Buffer.alloc(16)), 'ERR_ARGUMENT');
    expectCode(() => native.rsaOaepDecrypt(rsaKey, empty, empty), 'ERR_ARGUMENT');
    // Empty AAD and empty ciphertext are legitimate GCM inputs: the tag is checked (and fails here).
    expectCode(() => native.aesGcmDecrypt(Buffer.alloc(16), Buffer.alloc(16), empty, empty, Buffer.alloc(16)), 'ERR_DECRYPT');
    // An empty label is the RSA_v1 label.
    expect(native.rsaOaepDecrypt(rsaKey, WRAPPED, empty).length).toBe(16);
  });

  it('buffers above the 1 MiB cap are refused; the cap itself is accepted', () => {
    const big = Buffer.alloc(MAX_INPUT + 1);
    expectCode(() => native.importKey(big), 'ERR_ARGUMENT');
    expectCode(() => native.importKey(gala.keyPem, Buffer.alloc(1025)), 'ERR_ARGUMENT');
    expectCode(() => calls.decryptEC(ecKey, big, gala.partyV, EC_DATA), 'ERR_ARGUMENT');
    expectCode(() => calls.decryptEC(ecKey, EPH, gala.partyV, big), 'ERR_ARGUMENT');
    expectCode(() => calls.decryptRSA(rsaKey, WRAPPED, big), 'ERR_ARGUMENT');
    expectCode(() => native.aesGcmDecrypt(Buffer.alloc(16), Buffer.alloc(16), big, Buffer.alloc(0), Buffer.alloc(16)), 'ERR_ARGUMENT');
    expectCode(() => calls.decryptEC(ecKey, EPH, gala.partyV, Buffer.alloc(MAX_INPUT)), 'ERR_DECRYPT');
    expectCode(() => native.importKey(Buffer.alloc(MAX_INPUT, 0x30)), 'ERR_KEY_DECODE');
  });

  it('detached ArrayBuffers are refused', async () => {
    expectCode(() => native.importKey(detachedView(64)), 'ERR_ARGUMENT');
    expectCode(() => calls.decryptEC(ecKey, detachedView(91), gala.partyV, EC_DATA), 'ERR_ARGUMENT');
    expectCode(() => calls.decryptEC(ecKey, EPH, gala.partyV, detachedView(64)), 'ERR_ARGUMENT');
    expectCode(() => calls.decryptRSA(rsaKey, detachedView(256), RSA_DATA), 'ERR_ARGUMENT');
    expectCode(() => native.kdf(detachedView(32), gala.partyV), 'ERR_ARGUMENT');
    expectCode(
      () => native.aesGcmDecrypt(Buffer.alloc(16), Buffer.alloc(16), detachedView(4), Buffer.alloc(0), Buffer.alloc(16)),
      'ERR_ARGUMENT',
    );
    await expect(calls.decryptECAsync(ecKey, EPH, gala.partyV, detachedView(64))).rejects.toMatchObject({ code: 'ERR_ARGUMENT' });
    await expect(calls.decryptRSAAsync(rsaKey, WRAPPED, detachedView(64))).rejects.toMatchObject({ code: 'ERR_ARGUMENT' });
  });

  it('anything but a handle from importKey is refused as the key', () => {
    const proto = Object.getPrototypeOf(ecKey) as object;
    const fakes: unknown[] = [
      undefined,
      null,
      {},
      'ec',
      EPH,
      { type: 'ec', bits: 256, spki: ecKey.spki, certificate: null },
      Object.create(proto),
      new Proxy(ecKey, {}),
    ];
    for (const fake of fakes) {
      expectCode(() => anyCalls.decryptEC!(fake, EPH, gala.partyV, EC_DATA), 'ERR_ARGUMENT');
      expectCode(() => any.ecdh!(fake, EPH), 'ERR_ARGUMENT');
      // token() with no key (null or undefined) is its signature-only form: it decrypts nothing. An EC
      // call still fails there, on its partyV; an RSA call has none, so it is that form and returns null.
      if (fake === undefined || fake === null) expect(anyCalls.decryptRSA!(fake, WRAPPED, RSA_DATA)).toBeNull();
      else expectCode(() => anyCalls.decryptRSA!(fake, WRAPPED, RSA_DATA), 'ERR_ARGUMENT');
      expectCode(() => any.rsaOaepDecrypt!(fake, WRAPPED, Buffer.alloc(0)), 'ERR_ARGUMENT');
    }
    // The class is reachable through the prototype but cannot mint handles.
    const Ctor = (ecKey as unknown as { constructor: new () => unknown }).constructor;
    expectCode(() => new Ctor(), 'ERR_ARGUMENT');
  });

  it('a key of the other type is refused (RSA handle into EC calls and vice versa)', async () => {
    expectCode(() => calls.decryptEC(rsaKey, EPH, gala.partyV, EC_DATA), 'ERR_ARGUMENT');
    expectCode(() => native.ecdh(rsaKey, EPH), 'ERR_ARGUMENT');
    expectCode(() => calls.decryptRSA(ecKey, WRAPPED, RSA_DATA), 'ERR_ARGUMENT');
    expectCode(() => native.rsaOaepDecrypt(ecKey, WRAPPED, Buffer.alloc(0)), 'ERR_ARGUMENT');
    await expect(calls.decryptECAsync(rsaKey, EPH, gala.partyV, EC_DATA)).rejects.toMatchObject({ code: 'ERR_ARGUMENT' });
    await expect(calls.decryptRSAAsync(ecKey, WRAPPED, RSA_DATA)).rejects.toMatchObject({ code: 'ERR_ARGUMENT' });
  });

  it('the asynchronous calls reject instead of throwing', async () => {
    const p = anyCalls.decryptECAsync!({}, EPH, gala.partyV, EC_DATA);
    expect(p).toBeInstanceOf(Promise);
    await expect(p).rejects.toMatchObject({ code: 'ERR_ARGUMENT' });
    const q = anyCalls.decryptRSAAsync!(rsaKey, 'nope', RSA_DATA);
    expect(q).toBeInstanceOf(Promise);
    await expect(q).rejects.toMatchObject({ code: 'ERR_ARGUMENT' });
  });

  it('wrong fixed sizes are ERR_ARGUMENT: PartyV, Z, AES key, IV, tag', () => {
    for (const n of [31, 33]) {
      expectCode(() => calls.decryptEC(ecKey, EPH, Buffer.alloc(n), EC_DATA), 'ERR_ARGUMENT');
      expectCode(() => native.kdf(Buffer.alloc(32), Buffer.alloc(n)), 'ERR_ARGUMENT');
      expectCode(() => native.kdf(Buffer.alloc(n), Buffer.alloc(32)), 'ERR_ARGUMENT');
    }
    for (const n of [1, 15, 17, 31, 33, 64]) {
      expectCode(
        () => native.aesGcmDecrypt(Buffer.alloc(n), Buffer.alloc(16), Buffer.alloc(0), Buffer.alloc(1), Buffer.alloc(16)),
        'ERR_ARGUMENT',
      );
    }
    expectCode(
      () => native.aesGcmDecrypt(Buffer.alloc(16), Buffer.alloc(129), Buffer.alloc(0), Buffer.alloc(1), Buffer.alloc(16)),
      'ERR_ARGUMENT',
    );
    for (let n = 1; n <= 15; n++) {
      expectCode(
        () => native.aesGcmDecrypt(Buffer.alloc(16), Buffer.alloc(16), Buffer.alloc(0), Buffer.alloc(1), Buffer.alloc(n)),
        'ERR_ARGUMENT',
      );
    }
    expectCode(
      () => native.aesGcmDecrypt(Buffer.alloc(16), Buffer.alloc(16), Buffer.alloc(0), Buffer.alloc(1), Buffer.alloc(17)),
      'ERR_ARGUMENT',
    );
  });
});

describe('byte views', () => {
  it('accepts any Uint8Array, including views with a byteOffset into a larger buffer', async () => {
    const embed = (bytes: Buffer, before: number): Uint8Array => {
      const backing = new Uint8Array(before + bytes.length + 7).fill(0xee);
      backing.set(bytes, before);
      return backing.subarray(before, before + bytes.length);
    };
    const eph = embed(EPH, 5);
    const pv = embed(gala.partyV, 13);
    const data = embed(EC_DATA, 3);
    expect(eph.byteOffset).toBe(5);
    expect(calls.decryptEC(ecKey, eph, pv, data).equals(EC_PLAIN)).toBe(true);
    expect((await calls.decryptECAsync(ecKey, eph, pv, data)).equals(EC_PLAIN)).toBe(true);
    expect(calls.decryptRSA(rsaKey, embed(WRAPPED, 1), embed(RSA_DATA, 9)).equals(RSA_PLAIN)).toBe(true);
    // A Buffer from the shared pool is itself such a view.
    const pooled = Buffer.from(gala.keyPem.toString('utf8'));
    expect(native.importKey(new Uint8Array(pooled.buffer, pooled.byteOffset, pooled.length)).type).toBe('ec');
  });

  it('the asynchronous calls copy their inputs before returning', async () => {
    const data = Buffer.from(EC_DATA);
    const eph = new Uint8Array(EPH);
    const p = calls.decryptECAsync(ecKey, eph, gala.partyV, data);
    data.fill(0);
    eph.fill(0);
    expect((await p).equals(EC_PLAIN)).toBe(true);

    const ab = new ArrayBuffer(RSA_DATA.length);
    new Uint8Array(ab).set(RSA_DATA);
    const q = calls.decryptRSAAsync(rsaKey, WRAPPED, new Uint8Array(ab));
    structuredClone(ab, { transfer: [ab] }); // detach while queued
    expect((await q).equals(RSA_PLAIN)).toBe(true);
  });

  it('in-flight asynchronous work keeps its key alive through garbage collection', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const pending: Promise<Buffer>[] = [];
    for (let i = 0; i < 64; i++) {
      // The handle is unreachable from JavaScript as soon as the call returns.
      pending.push(calls.decryptECAsync(native.importKey(gala.keyPem), EPH, gala.partyV, EC_DATA));
      if (i % 8 === 0) gc();
    }
    gc();
    for (const out of await Promise.all(pending)) expect(out.equals(EC_PLAIN)).toBe(true);
  });
});

describe('ephemeral public key (ERR_EPHEMERAL_KEY)', () => {
  const prefix = EPH.subarray(0, 26);
  const point = EPH.subarray(26);
  const check = async (spki: Uint8Array): Promise<void> => {
    expectCode(() => native.ecdh(ecKey, spki), 'ERR_EPHEMERAL_KEY');
    expectCode(() => calls.decryptEC(ecKey, spki, gala.partyV, EC_DATA), 'ERR_EPHEMERAL_KEY');
    await expect(calls.decryptECAsync(ecKey, spki, gala.partyV, EC_DATA)).rejects.toMatchObject({ code: 'ERR_EPHEMERAL_KEY' });
  };

  it('the token key has exactly the expected 26-byte prefix', () => {
    expect(prefix.toString('hex')).toBe('3059301306072a8648ce3d020106082a8648ce3d030107034200');
    expect(point[0]).toBe(0x04);
  });

  it('refuses the point at infinity, in both encodings', async () => {
    // SEC1 encodes infinity as the single byte 00: a 27-byte SPKI with a 2-byte BIT STRING.
    await check(Buffer.from('3019301306072a8648ce3d020106082a8648ce3d030107030200' + '00', 'hex'));
    // And inside the 91-byte frame: 04 || 0 || 0, which is no point at all.
    await check(Buffer.concat([prefix, Buffer.from([4]), Buffer.alloc(64)]));
  });

  it('refuses a point off the curve', async () => {
    const offCurve = Buffer.from(EPH);
    offCurve[90]! ^= 0x01;
    await check(offCurve);
    const xOnly = Buffer.from(EPH);
    xOnly[30]! ^= 0x80;
    await check(xOnly);
  });

  it('refuses the compressed form of the same point', async () => {
    const compressed = createPublicKey({ key: EPH, format: 'der', type: 'spki' }).export({ format: 'jwk' });
    expect(compressed.crv).toBe('P-256');
    const y = Buffer.from(compressed.y!, 'base64url');
    const x = Buffer.from(compressed.x!, 'base64url');
    const spki = Buffer.concat([
      Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'),
      Buffer.from([(y[31]! & 1) === 1 ? 3 : 2]),
      x,
    ]);
    // node:crypto (OpenSSL) accepts it as the same key...
    expect(createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' }).x).toBe(compressed.x);
    // ...the addon does not.
    await check(spki);
  });

  it('refuses hybrid point encodings (06/07), which are also 65 bytes', async () => {
    for (const tag of [0x06, 0x07, 0x02, 0x03, 0x00, 0x05]) {
      const h = Buffer.from(EPH);
      h[26] = tag;
      await check(h);
    }
  });

  it('refuses explicit curve parameters that OpenSSL alone would accept', async () => {
    const explicit = fixture('ec-explicit.pub.der');
    const fixtureKey = native.importKey(fixture('ec.key.pem'));
    expect(createPublicKey({ key: explicit, format: 'der', type: 'spki' }).asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expectCode(() => native.ecdh(fixtureKey, explicit), 'ERR_EPHEMERAL_KEY');
    // The named-curve encoding of the same public key is fine.
    expect(native.ecdh(fixtureKey, fixtureKey.spki).length).toBe(32);
  });

  it('refuses other curves, other key types, truncation and trailing bytes', async () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'der', type: 'spki' });
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ format: 'der', type: 'spki' });
    const x25519 = generateKeyPairSync('x25519').publicKey.export({ format: 'der', type: 'spki' });
    for (const spki of [p384, k1, x25519, EPH.subarray(0, 90), Buffer.concat([EPH, Buffer.from([0])]), Buffer.alloc(91)]) {
      await check(spki);
    }
    // The length of the outer SEQUENCE in BER long form: same key, 92 bytes.
    await check(Buffer.concat([Buffer.from('308159', 'hex'), EPH.subarray(2)]));
  });
});

describe('truncated data and tags (ERR_DECRYPT)', () => {
  it('EC_v1 and RSA_v1 data of 1..16 bytes (tag of 0..15 bytes, or no payload) fail as decryption', async () => {
    for (let n = 1; n <= 16; n++) {
      expectCode(() => calls.decryptEC(ecKey, EPH, gala.partyV, EC_DATA.subarray(EC_DATA.length - n)), 'ERR_DECRYPT');
      expectCode(() => calls.decryptRSA(rsaKey, WRAPPED, RSA_DATA.subarray(RSA_DATA.length - n)), 'ERR_DECRYPT');
      await expect(calls.decryptECAsync(ecKey, EPH, gala.partyV, EC_DATA.subarray(0, n))).rejects.toMatchObject({ code: 'ERR_DECRYPT' });
      await expect(calls.decryptRSAAsync(rsaKey, WRAPPED, RSA_DATA.subarray(0, n))).rejects.toMatchObject({ code: 'ERR_DECRYPT' });
    }
    // Length 0 is refused one step earlier, at the boundary.
    expectCode(() => calls.decryptEC(ecKey, EPH, gala.partyV, EC_DATA.subarray(0, 0)), 'ERR_ARGUMENT');
  });

  it('a tag cut short and re-padded, or a flipped bit anywhere, fails', () => {
    for (const at of [0, EC_DATA.length - 17, EC_DATA.length - 16, EC_DATA.length - 1]) {
      const bad = Buffer.from(EC_DATA);
      bad[at]! ^= 0x01;
      expectCode(() => calls.decryptEC(ecKey, EPH, gala.partyV, bad), 'ERR_DECRYPT');
    }
    expectCode(() => calls.decryptEC(ecKey, EPH, gala.partyV, EC_DATA.subarray(0, EC_DATA.length - 1)), 'ERR_DECRYPT');
  });

  it('the IV length is really 16: a 12-byte IV prefix does not decrypt Apple data', () => {
    const key = Buffer.alloc(32, 7);
    const cipher = createCipheriv('aes-256-gcm', key, Buffer.alloc(16));
    const ct = Buffer.concat([cipher.update('hello'), cipher.final()]);
    const tag = cipher.getAuthTag();
    expect(native.aesGcmDecrypt(key, Buffer.alloc(16), Buffer.alloc(0), ct, tag).toString()).toBe('hello');
    expectCode(() => native.aesGcmDecrypt(key, Buffer.alloc(12), Buffer.alloc(0), ct, tag), 'ERR_DECRYPT');
  });

  it('aesGcmDecrypt authenticates the AAD', () => {
    const key = Buffer.alloc(16, 1);
    const iv = Buffer.alloc(16, 2);
    const cipher = createCipheriv('aes-128-gcm', key, iv);
    cipher.setAAD(Buffer.from('header'));
    const ct = Buffer.concat([cipher.update('payload'), cipher.final()]);
    const tag = cipher.getAuthTag();
    expect(native.aesGcmDecrypt(key, iv, Buffer.from('header'), ct, tag).toString()).toBe('payload');
    expectCode(() => native.aesGcmDecrypt(key, iv, Buffer.from('headeR'), ct, tag), 'ERR_DECRYPT');
    expectCode(() => native.aesGcmDecrypt(key, iv, Buffer.alloc(0), ct, tag), 'ERR_DECRYPT');
  });
});

describe('RSA_v1 failures are indistinguishable (ERR_DECRYPT, one message)', () => {
  const rsaPublic = createPublicKey({ key: rsaKey.spki, format: 'der', type: 'spki' });
  const oaep = (msg: Buffer, oaepLabel?: Buffer): Buffer =>
    publicEncrypt(
      { key: rsaPublic, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', ...(oaepLabel ? { oaepLabel } : {}) },
      msg,
    );

  it('OAEP failure, unwrapped key of the wrong length and bad tag give the same error', async () => {
    const garbage = Buffer.alloc(256, 0x5a);
    const wrongLength = oaep(Buffer.alloc(32, 1)); // valid OAEP, but 32 bytes instead of 16
    const wrongKey = oaep(Buffer.alloc(16, 1)); // valid OAEP and length, wrong AES key -> bad tag
    const errors: Error[] = [];
    for (const wrapped of [garbage, wrongLength, wrongKey, WRAPPED.subarray(1), Buffer.concat([WRAPPED, Buffer.from([0])])]) {
      try {
        calls.decryptRSA(rsaKey, wrapped, RSA_DATA);
        expect.fail('decrypted');
      } catch (err) {
        errors.push(err as Error);
      }
      await expect(calls.decryptRSAAsync(rsaKey, wrapped, RSA_DATA)).rejects.toMatchObject({
        code: 'ERR_DECRYPT',
        message: 'Decryption failed',
      });
    }
    for (const err of errors) expect(err).toMatchObject({ code: 'ERR_DECRYPT', message: 'Decryption failed' });
    expect(Object.keys(errors[0]!)).toEqual(Object.keys(errors[2]!));
  });

  it('rsaOaepDecrypt uses the label it is given', () => {
    const label = Buffer.from('a label');
    const ct = oaep(Buffer.from('secret'), label);
    expect(native.rsaOaepDecrypt(rsaKey, ct, label).toString()).toBe('secret');
    expectCode(() => native.rsaOaepDecrypt(rsaKey, ct, Buffer.alloc(0)), 'ERR_DECRYPT');
    expectCode(() => native.rsaOaepDecrypt(rsaKey, ct, Buffer.from('a labeL')), 'ERR_DECRYPT');
  });
});

describe('importKey formats', () => {
  const ecPem = fixture('ec.key.pem');
  const rsaPem = fixture('rsa.key.pem');
  const ecObj = createPrivateKey(ecPem);
  const rsaObj = createPrivateKey(rsaPem);
  const spkiOf = (k: KeyObject): Buffer => createPublicKey(k).export({ format: 'der', type: 'spki' });
  const pw = 'pass phrase';

  const variants = (k: KeyObject, traditional: 'sec1' | 'pkcs1'): [string, Buffer | string, string?][] => [
    ['PKCS#8 PEM', k.export({ format: 'pem', type: 'pkcs8' })],
    ['PKCS#8 DER', k.export({ format: 'der', type: 'pkcs8' })],
    [`${traditional} PEM`, k.export({ format: 'pem', type: traditional })],
    [`${traditional} DER`, k.export({ format: 'der', type: traditional })],
    ['encrypted PKCS#8 PEM', k.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: pw }), pw],
    ['encrypted PKCS#8 DER', k.export({ format: 'der', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: pw }), pw],
    [`encrypted ${traditional} PEM (Proc-Type)`, k.export({ format: 'pem', type: traditional, cipher: 'aes-128-cbc', passphrase: pw }), pw],
  ];

  for (const [label, obj, trad, type, bits] of [
    ['EC P-256', ecObj, 'sec1', 'ec', 256],
    ['RSA-2048', rsaObj, 'pkcs1', 'rsa', 2048],
  ] as const) {
    it(`${label}: every encoding gives the same spki, equal to node:crypto's`, () => {
      const expected = spkiOf(obj);
      for (const [name, data, passphrase] of variants(obj, trad)) {
        const bytes = typeof data === 'string' ? Buffer.from(data) : data;
        const key = native.importKey(bytes, passphrase === undefined ? undefined : Buffer.from(passphrase));
        expect([name, key.type, key.bits]).toEqual([name, type, bits]);
        expect(key.spki.equals(expected), name).toBe(true);
        expect(key.certificate).toBeNull();
        if (passphrase !== undefined) {
          expectCode(() => native.importKey(bytes), 'ERR_KEY_DECODE');
          expectCode(() => native.importKey(bytes, Buffer.from('wrong')), 'ERR_KEY_DECODE');
          expectCode(() => native.importKey(bytes, new Uint8Array(0)), 'ERR_KEY_DECODE');
        }
      }
    });
  }

  it('an unencrypted key ignores a passphrase; a PEM bundle with the certificate first works', () => {
    expect(native.importKey(ecPem, PASS).spki.equals(spkiOf(ecObj))).toBe(true);
    const bundle = Buffer.concat([fixture('ec.cert.pem'), ecPem]);
    expect(native.importKey(bundle).spki.equals(spkiOf(ecObj))).toBe(true);
  });

  it('explicit-parameter P-256 private keys import with the named-curve spki', () => {
    const key = native.importKey(fixture('ec-explicit.key.pem'));
    expect(key.spki.equals(spkiOf(ecObj))).toBe(true);
  });

  it('handle properties are read-only copies', () => {
    const key = native.importKey(ecPem);
    const spki = key.spki;
    spki.fill(0);
    expect(key.spki.equals(spkiOf(ecObj))).toBe(true);
    expect(() => {
      (key as { type: string }).type = 'rsa';
    }).toThrow(TypeError);
    expect(key.type).toBe('ec');
  });

  it('unsupported algorithms and sizes: ERR_KEY_UNSUPPORTED', () => {
    const keys: [string, KeyObject][] = [
      ['P-384', generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey],
      ['P-521', generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey],
      ['secp256k1', generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey],
      ['Ed25519', generateKeyPairSync('ed25519').privateKey],
      ['X25519', generateKeyPairSync('x25519').privateKey],
      ['RSA-1024', generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey],
      ['RSA-2047', generateKeyPairSync('rsa', { modulusLength: 2047 }).privateKey],
      ['RSA-PSS-2048', generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey],
      ['DSA-2048', generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 224 }).privateKey],
    ];
    for (const [name, k] of keys) {
      const encodings: [string, Buffer][] = [
        ['pem', Buffer.from(k.export({ format: 'pem', type: 'pkcs8' }))],
        ['der', k.export({ format: 'der', type: 'pkcs8' })],
      ];
      for (const [format, data] of encodings) {
        try {
          native.importKey(data);
          expect.fail(`${name} accepted`);
        } catch (err) {
          expect(err, `${name} ${format}`).toMatchObject({ code: 'ERR_KEY_UNSUPPORTED' });
        }
      }
    }
    expectCode(() => native.importKey(fixture('p384.key.pem')), 'ERR_KEY_UNSUPPORTED');
  });

  it('garbage, public keys, certificates and corrupt key pairs: ERR_KEY_DECODE', () => {
    const der = ecObj.export({ format: 'der', type: 'pkcs8' });
    const sec1 = ecObj.export({ format: 'der', type: 'sec1' });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
    // SEC1 with the public key of another key spliced in (the point is the last 65 bytes).
    const spliced = Buffer.concat([sec1.subarray(0, sec1.length - 65), other.subarray(other.length - 65)]);
    const bad: [string, Buffer][] = [
      ['random bytes', Buffer.from('9f3a77c1e0d5b2a48c', 'hex')],
      ['text', Buffer.from('not a key at all')],
      ['one byte', Buffer.from([0x30])],
      ['empty PEM', Buffer.from('-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n')],
      ['garbage PEM', Buffer.from('-----BEGIN PRIVATE KEY-----\nAAAAAAAA\n-----END PRIVATE KEY-----\n')],
      ['truncated DER', der.subarray(0, der.length - 1)],
      ['DER with a trailing byte', Buffer.concat([der, Buffer.from([0])])],
      ['public key PEM', Buffer.from(createPublicKey(ecObj).export({ format: 'pem', type: 'spki' }))],
      ['public key DER', spkiOf(ecObj)],
      ['certificate PEM only', fixture('ec.cert.pem')],
      ['certificate DER', fixture('ec.cert.der')],
      ['SEC1 with a foreign public key', spliced],
    ];
    for (const [name, data] of bad) {
      try {
        native.importKey(data);
        expect.fail(`${name} accepted`);
      } catch (err) {
        expect(err, name).toMatchObject({ code: 'ERR_KEY_DECODE' });
      }
    }
  });
});

describe('importKey PKCS#12', () => {
  const ecSpki = createPublicKey(createPrivateKey(fixture('ec.key.pem'))).export({ format: 'der', type: 'spki' });
  const ecCert = fixture('ec.cert.der');

  const expectEc = (key: MerchantKeyHandle, cert: Buffer | null): void => {
    expect([key.type, key.bits]).toEqual(['ec', 256]);
    expect(key.spki.equals(ecSpki)).toBe(true);
    if (cert === null) expect(key.certificate).toBeNull();
    else expect(key.certificate?.equals(cert)).toBe(true);
  };

  it('modern AES p12: imports with its passphrase only', () => {
    const p12 = fixture('ec-aes.p12');
    expectEc(native.importKey(p12, PASS), ecCert);
    expectCode(() => native.importKey(p12), 'ERR_KEY_DECODE');
    expectCode(() => native.importKey(p12, null), 'ERR_KEY_DECODE');
    expectCode(() => native.importKey(p12, new Uint8Array(0)), 'ERR_KEY_DECODE');
    expectCode(() => native.importKey(p12, Buffer.from('correct horsE')), 'ERR_KEY_DECODE');
    expectCode(() => native.importKey(p12, Buffer.from('correct\0horse')), 'ERR_KEY_DECODE');
  });

  it('empty-password and unprotected p12: no passphrase, null and empty all work', () => {
    for (const name of ['ec-empty-password.p12', 'ec-unprotected.p12']) {
      const p12 = fixture(name);
      expectEc(native.importKey(p12), ecCert);
      expectEc(native.importKey(p12, null), ecCert);
      expectEc(native.importKey(p12, new Uint8Array(0)), ecCert);
    }
    expectCode(() => native.importKey(fixture('ec-empty-password.p12'), PASS), 'ERR_KEY_DECODE');
  });

  it('legacy RC2-40 p12 (Keychain style) imports without enabling RC2 in node:crypto', () => {
    const rc2Before = getCiphers().filter((c) => c.startsWith('rc2'));
    expectEc(native.importKey(fixture('ec-legacy-rc2.p12'), PASS), ecCert);
    expectCode(() => native.importKey(fixture('ec-legacy-rc2.p12'), Buffer.from('wrong')), 'ERR_KEY_DECODE');
    expect(getCiphers().filter((c) => c.startsWith('rc2'))).toEqual(rc2Before);
    expect(() => createCipheriv('rc2-40-cbc', Buffer.alloc(5), Buffer.alloc(8))).toThrow();
  });

  it('3DES p12, chain p12 (the leaf is reported), key-only p12 (no certificate)', () => {
    expectEc(native.importKey(fixture('ec-3des.p12'), PASS), ecCert);
    const chain = native.importKey(fixture('ec-chain.p12'), PASS);
    expectEc(chain, ecCert);
    expect(chain.certificate!.equals(fixture('ca.cert.der'))).toBe(false);
    expectEc(native.importKey(fixture('ec-keyonly.p12'), PASS), null);
  });

  it('RSA p12 imports; P-384 p12 is unsupported; a truncated p12 does not decode', () => {
    const rsa = native.importKey(fixture('rsa-aes.p12'), PASS);
    expect([rsa.type, rsa.bits]).toEqual(['rsa', 2048]);
    expect(rsa.certificate!.equals(fixture('rsa.cert.der'))).toBe(true);
    expect(rsa.spki.equals(createPublicKey(createPrivateKey(fixture('rsa.key.pem'))).export({ format: 'der', type: 'spki' }))).toBe(true);
    expectCode(() => native.importKey(fixture('p384-aes.p12'), PASS), 'ERR_KEY_UNSUPPORTED');
    const p12 = fixture('ec-aes.p12');
    expectCode(() => native.importKey(p12.subarray(0, p12.length - 1), PASS), 'ERR_KEY_DECODE');
  });
});

describe('the OpenSSL error queue is left clean for node:crypto', () => {
  it('node:crypto behaves the same before and after failing addon calls', () => {
    const ecPem = fixture('ec.key.pem');
    const encrypted = createPrivateKey(ecPem).export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'right' });
    const nodeError = (): string => {
      try {
        createPrivateKey({ key: encrypted, passphrase: 'wrong' });
        return 'no error';
      } catch (err) {
        return `${(err as { code?: string }).code} ${(err as Error).message}`;
      }
    };
    const baseline = nodeError();
    const failures: (() => unknown)[] = [
      () => native.importKey(Buffer.from('garbage')),
      () => native.importKey(fixture('ec-aes.p12'), Buffer.from('wrong')),
      () => native.importKey(Buffer.from(encrypted), Buffer.from('wrong')),
      () => native.importKey(fixture('p384.key.pem')),
      () => native.ecdh(ecKey, fixture('ec-explicit.pub.der')),
      () => calls.decryptEC(ecKey, EPH, gala.partyV, Buffer.alloc(64)),
      () => calls.decryptRSA(rsaKey, Buffer.alloc(256, 1), RSA_DATA),
      () => native.rsaOaepDecrypt(rsaKey, Buffer.alloc(256, 2), Buffer.alloc(0)),
    ];
    for (const fail of failures) {
      expect(fail).toThrow();
      // A valid key right after the failure: a stale error on the queue would break this.
      expect(createPrivateKey(ecPem).asymmetricKeyType).toBe('ec');
      expect(nodeError()).toBe(baseline);
    }
  });
});
