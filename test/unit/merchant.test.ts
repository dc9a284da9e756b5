// lib/steps/merchant-key.ts on its own: a merchant key is loaded with what choosing it needs (publicKeyHash,
// docs/token-format.md#merchant-key) and what the KDF needs (party V, #party-v).
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { indexMerchants, loadMerchant } from '../../lib/steps/merchant-key.js';
import { pki } from '../support/helpers.js';
import { expectCode } from '../support/expect-code.js';

const sha256 = (b: Uint8Array | string): Buffer => createHash('sha256').update(b).digest();

describe('loadMerchant', () => {
  test('certificate + key: publicKeyHash from the certificate, party V from its extension, version from the key', () => {
    for (const name of ['ec', 'rsa', 'zero'] as const) {
      const m = pki().merchants[name];
      const loaded = loadMerchant({ certificate: m.certPem, privateKey: readFileSync(m.keyPath) }, 0);
      expect(loaded.publicKeyHash).toEqual(m.publicKeyHash);
      expect(loaded.partyV).toEqual(sha256(m.identifier));
      expect(loaded.partyV).toHaveLength(32);
      expect(loaded.version).toBe(m.keyType === 'EC' ? 'EC_v1' : 'RSA_v1');
    }
  });

  test('a party V that starts with a zero byte keeps all 32 bytes', () => {
    const m = pki().merchants.zero;
    const loaded = loadMerchant({ certificate: m.certPem, privateKey: readFileSync(m.keyPath) }, 0);
    expect(loaded.partyV[0]).toBe(0);
    expect(loaded.partyV).toEqual(m.identifierHash);
  });

  test('key + merchantIdentifier: publicKeyHash from the public half of the key', () => {
    const m = pki().merchants.ec;
    const key = readFileSync(m.keyPath);
    const loaded = loadMerchant({ privateKey: key, merchantIdentifier: m.identifier }, 0);
    expect(loaded.publicKeyHash).toEqual(sha256(createPublicKey(key).export({ type: 'spki', format: 'der' })));
    expect(loaded.partyV).toEqual(sha256(m.identifier));
  });

  test('mismatches and gaps in the configuration are refused with their codes', () => {
    const { ec, rsa } = pki().merchants;
    expectCode(() => loadMerchant({ certificate: ec.certPem, privateKey: readFileSync(rsa.keyPath) }, 0), 'MERCHANT_KEY_INVALID');
    expectCode(
      () => loadMerchant({ certificate: ec.certPem, privateKey: readFileSync(ec.keyPath), merchantIdentifier: 'merchant.other' }, 0),
      'CONFIG_INVALID',
    );
    expectCode(() => loadMerchant({ privateKey: readFileSync(ec.keyPath) }, 0), 'CONFIG_INVALID');
    expectCode(() => loadMerchant({ certificate: 'not a certificate', privateKey: readFileSync(ec.keyPath) }, 0), 'MERCHANT_CERT_INVALID');
    expectCode(() => loadMerchant({ certificate: ec.certPem, privateKey: Buffer.from('not a key') }, 0), 'MERCHANT_KEY_INVALID');
  });
});

describe('indexMerchants', () => {
  test('indexes by publicKeyHash and refuses two entries with one key', () => {
    const { ec, rsa } = pki().merchants;
    const a = loadMerchant({ certificate: ec.certPem, privateKey: readFileSync(ec.keyPath) }, 0);
    const b = loadMerchant({ certificate: rsa.certPem, privateKey: readFileSync(rsa.keyPath) }, 1);
    const index = indexMerchants([a, b]);
    expect(index.size).toBe(2);
    expect([...index.values()]).toEqual(expect.arrayContaining([a, b]));
    const again = loadMerchant({ privateKey: readFileSync(ec.keyPath), merchantIdentifier: ec.identifier }, 2);
    expectCode(() => indexMerchants([a, b, again]), 'CONFIG_INVALID');
  });
});
