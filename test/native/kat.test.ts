// Known answers for the addon alone (no signature or chain checks): the KDF vector of docs/token-format.md#key-derivation and the
// decryption of every real token in test-vectors/real/ to its expected.json, synchronously and
// asynchronously, plus the primitives composed by hand to the same result.
import { createHash, createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { native, type MerchantKeyHandle } from '../../lib/native/binding.js';
import { extensionValue, tlvAt } from '../support/ber.js';
import { loadRealToken } from './fixtures/native-cms.js';
import { tokenCalls } from './fixtures/native-compat.mjs';

// The token path through the addon's one entry point, behind a real token's verifying signature
// (see fixtures/native-compat.mjs).
const signerOf = (name: string) => {
  const t = loadRealToken(name);
  return { signer: native.importPublicKey(t.spki), message: t.message, signature: t.signature };
};
const calls = tokenCalls(native, { ec: signerOf('gala-seatgeek-2014'), rsa: signerOf('basistheory-rsa-2024') });

const REAL_DIR = fileURLToPath(new URL('../../test-vectors/real/', import.meta.url));

// docs/token-format.md#key-derivation, from the gala token
const KAT_Z = Buffer.from('yCUzDuNYTnUnANZEdxC7+DvPmqNslB2YWYn68SBsJHU=', 'base64');
const KAT_PARTY_V = Buffer.from('358DA5890B9555C0A9EFB84B5CD6FF04BFDCD5AABF5DC14B9872D8DF51EAF439', 'hex');
const KAT_K = Buffer.from('3GTXJ4RuP/IhS23hsdOw2J2ecAZmC0RasbPIFdC3nQM=', 'base64');
const ZERO_IV = Buffer.alloc(16);

interface TokenJson {
  version: 'EC_v1' | 'RSA_v1';
  data: string;
  header: { ephemeralPublicKey?: string; wrappedKey?: string; publicKeyHash: string };
}

interface RealSet {
  name: string;
  token: TokenJson;
  keyPem: Buffer;
  certPem: string;
  expected: unknown;
  merchantIdHashHex: string;
}

function loadSets(): RealSet[] {
  return readdirSync(REAL_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => {
      const dir = join(REAL_DIR, d.name);
      const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { merchantIdHashHex: string };
      return {
        name: d.name,
        token: JSON.parse(readFileSync(join(dir, 'token.json'), 'utf8')) as TokenJson,
        keyPem: readFileSync(join(dir, 'merchant_key.TEST-KEY.pem')),
        certPem: readFileSync(join(dir, 'merchant_cert.pem'), 'utf8'),
        expected: JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as unknown,
        merchantIdHashHex: meta.merchantIdHashHex,
      };
    });
}

// With the tests' BER oracle: finds extension 1.2.840.113635.100.6.32 in the merchant certificate
// and returns its value, an OCTET STRING wrapping a UTF8String of 64 hex characters.
function merchantIdHash(certPem: string): Buffer {
  const b64 = certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const der = Buffer.from(b64, 'base64');
  const value = extensionValue(der, Buffer.from('06092a864886f763640620', 'hex'));
  expect(value).toBeDefined();
  const inner = tlvAt(der, value!.contentStart);
  expect(inner.tag).toBe(0x0c);
  const hex = der.subarray(inner.contentStart, inner.contentEnd).toString('latin1');
  expect(hex).toMatch(/^[0-9A-Fa-f]{64}$/);
  return Buffer.from(hex, 'hex');
}

function decryptSync(set: RealSet, key: MerchantKeyHandle): Buffer {
  const data = Buffer.from(set.token.data, 'base64');
  if (set.token.version === 'EC_v1') {
    const eph = Buffer.from(set.token.header.ephemeralPublicKey!, 'base64');
    return calls.decryptEC(key, eph, merchantIdHash(set.certPem), data);
  }
  return calls.decryptRSA(key, Buffer.from(set.token.header.wrappedKey!, 'base64'), data);
}

function decryptAsync(set: RealSet, key: MerchantKeyHandle): Promise<Buffer> {
  const data = Buffer.from(set.token.data, 'base64');
  if (set.token.version === 'EC_v1') {
    const eph = Buffer.from(set.token.header.ephemeralPublicKey!, 'base64');
    return calls.decryptECAsync(key, eph, merchantIdHash(set.certPem), data);
  }
  return calls.decryptRSAAsync(key, Buffer.from(set.token.header.wrappedKey!, 'base64'), data);
}

const sets = loadSets();

describe('KDF known answer (docs/token-format.md#key-derivation)', () => {
  it('derives K from the gala Z and PartyV', () => {
    const k = native.kdf(KAT_Z, KAT_PARTY_V);
    expect(k.length).toBe(32);
    expect(k.equals(KAT_K)).toBe(true);
  });

  it('is the single-step KDF of SP 800-56A, recomputed with node:crypto', () => {
    const info = Buffer.concat([Buffer.from([0, 0, 0, 1]), KAT_Z, Buffer.from('\x0did-aes256-GCMApple', 'latin1'), KAT_PARTY_V]);
    expect(createHash('sha256').update(info).digest().equals(KAT_K)).toBe(true);
  });
});

describe('real tokens decrypt with the addon alone', () => {
  it('covers every set in test-vectors/real', () => {
    expect(sets.map((s) => s.name).sort()).toEqual([
      'apple-sample-testca-2016-emv',
      'basistheory-ec-2023-03',
      'basistheory-rsa-2024',
      'gala-seatgeek-2014',
    ]);
  });

  for (const set of sets) {
    describe(set.name, () => {
      const key = native.importKey(set.keyPem);

      it('imports the merchant key with the right type, size and public half', () => {
        expect(key.type).toBe(set.token.version === 'EC_v1' ? 'ec' : 'rsa');
        expect(key.bits).toBe(set.token.version === 'EC_v1' ? 256 : 2048);
        expect(key.certificate).toBeNull();
        expect(createHash('sha256').update(key.spki).digest('base64')).toBe(set.token.header.publicKeyHash);
      });

      it('takes PartyV from the certificate extension, equal to meta.json', () => {
        expect(merchantIdHash(set.certPem).toString('hex').toUpperCase()).toBe(set.merchantIdHashHex.toUpperCase());
      });

      it('decrypts synchronously to expected.json', () => {
        const plaintext = decryptSync(set, key);
        expect(JSON.parse(plaintext.toString('utf8'))).toEqual(set.expected);
      });

      it('decrypts asynchronously to the same bytes', async () => {
        const sync = decryptSync(set, key);
        const async = await decryptAsync(set, key);
        expect(Buffer.isBuffer(async)).toBe(true);
        expect(async.equals(sync)).toBe(true);
      });

      it('is reproduced by the primitives composed by hand', () => {
        const data = Buffer.from(set.token.data, 'base64');
        const ciphertext = data.subarray(0, data.length - 16);
        const tag = data.subarray(data.length - 16);
        let symmetricKey: Buffer;
        if (set.token.version === 'EC_v1') {
          const z = native.ecdh(key, Buffer.from(set.token.header.ephemeralPublicKey!, 'base64'));
          expect(z.length).toBe(32);
          symmetricKey = native.kdf(z, merchantIdHash(set.certPem));
        } else {
          symmetricKey = native.rsaOaepDecrypt(key, Buffer.from(set.token.header.wrappedKey!, 'base64'), new Uint8Array(0));
          expect(symmetricKey.length).toBe(16);
        }
        const plaintext = native.aesGcmDecrypt(symmetricKey, ZERO_IV, new Uint8Array(0), ciphertext, tag);
        expect(plaintext.equals(decryptSync(set, key))).toBe(true);
      });
    });
  }

  // The KDF triple of docs/token-format.md#key-derivation is commonly attributed to the gala token, but gala's own ECDH gives another Z: the
  // triple is internally consistent (tested above) and gala's published values are the ones below
  // (spreedly/gala test/payment_token_test.rb: shared secret "a2pPfemSdA560Fnz...", symmetric key
  // "HOSago9Z1Dhh..."). node:crypto recomputes the same Z independently.
  it('gala: ECDH and KDF give the values gala publishes, and node:crypto agrees on Z', () => {
    const gala = sets.find((s) => s.name === 'gala-seatgeek-2014')!;
    const key = native.importKey(gala.keyPem);
    const ephDer = Buffer.from(gala.token.header.ephemeralPublicKey!, 'base64');
    const z = native.ecdh(key, ephDer);
    expect(z.toString('base64')).toBe('a2pPfemSdA560FnzLSv8zfdlWdGJTonApOLq1zfgx8w=');
    const nodeZ = diffieHellman({
      privateKey: createPrivateKey(gala.keyPem),
      publicKey: createPublicKey({ key: ephDer, format: 'der', type: 'spki' }),
    });
    expect(z.equals(nodeZ)).toBe(true);
    const k = native.kdf(z, merchantIdHash(gala.certPem));
    expect(k.toString('base64')).toBe('HOSago9Z1DhhukQvzmgpuCGPuwq1W0AgasMQWNZvUIY=');
  });

  it('a wrong PartyV is a decryption failure, not garbage', async () => {
    const gala = sets.find((s) => s.name === 'gala-seatgeek-2014')!;
    const key = native.importKey(gala.keyPem);
    const eph = Buffer.from(gala.token.header.ephemeralPublicKey!, 'base64');
    const data = Buffer.from(gala.token.data, 'base64');
    const wrong = Buffer.from(KAT_PARTY_V);
    wrong[31]! ^= 1;
    expect(() => calls.decryptEC(key, eph, wrong, data)).toThrow(expect.objectContaining({ code: 'ERR_DECRYPT' }));
    await expect(calls.decryptECAsync(key, eph, wrong, data)).rejects.toMatchObject({ code: 'ERR_DECRYPT' });
  });
});
