// `applepay-verify keys`: a CSR that OpenSSL accepts, the certificate Apple would issue for it imported,
// a Merchant Identity certificate refused with the sentence that says so, and the key ring check's
// exit status for cron. Nothing secret is printed; private keys are created with mode 0600.
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { afterAll, describe, expect, test } from 'vitest';
import { main, type Io } from '../../lib/cli/main.js';
import { createVerifier } from '../../lib/index.js';
import * as der from '../../test-vectors/gen/der.js';
import { issueCertificate, merchantSpec } from '../../test-vectors/gen/pki.js';
import { BIN } from '../support/bin.js';
import { REAL_DIR, pki } from '../support/helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'applepay-keys-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Everything printed, to look for key material at the end. */
const printed: string[] = [];
const secrets: string[] = [];

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stdin: async () => Buffer.alloc(0) };
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const status = await main(args, io);
    printed.push(stdout, stderr);
    return { status, stdout, stderr };
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
  }
}

const json = (s: string): Record<string, unknown> => {
  expect(s.trimEnd().split('\n')).toHaveLength(1);
  return JSON.parse(s) as Record<string, unknown>;
};

/** Apple issues the Payment Processing certificate for the public key in the CSR it receives. */
function issueFromCsr(csrPem: string, identifier: string, validity: { notBefore?: Date; notAfter?: Date } = {}): Buffer {
  const body = csrPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const csr = AsnConvert.parse(Buffer.from(body, 'base64'), CertificationRequest);
  const spki = Buffer.from(AsnConvert.serialize(csr.certificationRequestInfo.subjectPKInfo));
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  return issueCertificate(merchantSpec({ key, issuerKey: pki().wwdr.key, identifier, ...validity }));
}

function keyMaterial(keyPath: string): string[] {
  const jwk = createPrivateKey(readFileSync(keyPath)).export({ format: 'jwk' }) as Record<string, string>;
  const out = readFileSync(keyPath, 'utf8')
    .split('\n')
    .filter((l) => l.length > 20 && !l.startsWith('-----'));
  for (const k of ['d', 'p', 'q'])
    if (jwk[k] !== undefined)
      out.push(jwk[k], Buffer.from(jwk[k], 'base64url').toString('base64'), Buffer.from(jwk[k], 'base64url').toString('hex'));
  return out;
}

describe('keys new', () => {
  test.each([
    ['ec', []],
    ['rsa', ['--rsa', '--email', 'payments@example.com']],
  ])('%s: the key is created with mode 0600 and the CSR verifies with openssl req -verify', async (type, extra) => {
    const out = join(tmp, `new-${type}`);
    const r = await cli(['keys', 'new', '--merchant-id', 'merchant.com.example.shop', '--out', out, '--json', ...extra]);
    expect(r.status).toBe(0);
    const o = json(r.stdout);
    expect(o).toMatchObject({ ok: true, command: 'new', type, merchantIdentifier: 'merchant.com.example.shop', problems: [] });
    const keyPath = o.key as string;
    const csrPath = o.csr as string;
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    secrets.push(...keyMaterial(keyPath));
    const verify = spawnSync('openssl', ['req', '-verify', '-noout', '-in', csrPath], { encoding: 'utf8' });
    expect(verify.status).toBe(0);
    expect(verify.stderr + verify.stdout).toMatch(/verify OK/);
    const subject = spawnSync('openssl', ['req', '-noout', '-subject', '-in', csrPath], { encoding: 'utf8' }).stdout;
    expect(subject).toContain('CN = merchant.com.example.shop');
    // The hash printed is the one tokens will carry: SHA-256 of the CSR's (and the key's) SPKI.
    const spki = createPublicKey(createPrivateKey(readFileSync(keyPath))).export({ type: 'spki', format: 'der' });
    const { createHash } = await import('node:crypto');
    expect(o.publicKeyHash).toBe(createHash('sha256').update(spki).digest('base64'));
    expect(createPrivateKey(readFileSync(keyPath)).asymmetricKeyType).toBe(type);
  });

  test('a second run into the same directory refuses instead of overwriting the key', async () => {
    const out = join(tmp, 'twice');
    expect((await cli(['keys', 'new', '--merchant-id', 'merchant.com.example.a', '--out', out])).status).toBe(0);
    const before = readFileSync(join(out, 'merchant.com.example.a.key.pem'));
    const again = await cli(['keys', 'new', '--merchant-id', 'merchant.com.example.a', '--out', out, '--json']);
    expect(again.status).toBe(2);
    expect(json(again.stdout)).toMatchObject({ ok: false, code: 'USAGE' });
    expect(readFileSync(join(out, 'merchant.com.example.a.key.pem')).equals(before)).toBe(true);
    secrets.push(...keyMaterial(join(out, 'merchant.com.example.a.key.pem')));
  });

  test('usage errors: no merchant id, a malformed one, no --out', async () => {
    expect((await cli(['keys', 'new', '--out', tmp])).status).toBe(2);
    expect((await cli(['keys', 'new', '--merchant-id', 'bad id/../x', '--out', tmp])).status).toBe(2);
    expect((await cli(['keys', 'new', '--merchant-id', 'merchant.x'])).status).toBe(2);
    expect((await cli(['keys', 'frobnicate'])).status).toBe(2);
  });
});

describe('keys import', () => {
  test('the certificate the test PKI issues for the CSR (as Apple would) imports; PEM and PKCS#12 are written', async () => {
    const out = join(tmp, 'import');
    const made = json((await cli(['keys', 'new', '--merchant-id', 'merchant.com.example.import', '--out', out, '--json'])).stdout);
    secrets.push(...keyMaterial(made.key as string));
    const cerPath = join(out, 'apple_pay.cer');
    writeFileSync(cerPath, issueFromCsr(readFileSync(made.csr as string, 'utf8'), 'merchant.com.example.import'));
    const r = await cli(
      [
        'keys',
        'import',
        '--cert',
        cerPath,
        '--key',
        made.key as string,
        '--out',
        join(out, 'installed'),
        '--p12',
        '--passphrase-env',
        'P12_PASS',
        '--now',
        '2025-06-01T00:00:00Z',
        '--json',
      ],
      { P12_PASS: 'correct horse battery' },
    );
    expect(r.status).toBe(0);
    const o = json(r.stdout);
    expect(o).toMatchObject({
      ok: true,
      command: 'import',
      merchantIdentifier: 'merchant.com.example.import',
      publicKeyHash: made.publicKeyHash,
      type: 'ec',
      notBefore: '2024-01-01T00:00:00.000Z',
      notAfter: '2034-01-01T00:00:00.000Z',
      problems: [],
    });
    const certPem = readFileSync(o.certificate as string, 'utf8');
    expect(certPem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    const p12Path = o.p12 as string;
    expect(statSync(p12Path).mode & 0o777).toBe(0o600);
    // The library reads the PKCS#12 it wrote (and OpenSSL checks its MAC).
    const verifier = createVerifier({ merchants: { privateKey: readFileSync(p12Path), passphrase: 'correct horse battery' } });
    expect(verifier.merchantKeys()).toMatchObject([
      { publicKeyHash: made.publicKeyHash, merchantIdentifier: 'merchant.com.example.import' },
    ]);
    const info = spawnSync('openssl', ['pkcs12', '-in', p12Path, '-info', '-noout', '-passin', 'pass:correct horse battery'], {
      encoding: 'utf8',
    });
    expect(info.status).toBe(0);
    expect(info.stderr).toMatch(/MAC: sha256/);
    expect(
      spawnSync('openssl', ['pkcs12', '-in', p12Path, '-info', '-noout', '-passin', 'pass:wrong passphrase'], { encoding: 'utf8' }).status,
    ).not.toBe(0);
    // The DER file and the PEM text import alike; human output names the facts.
    const human = await cli(['keys', 'import', '--cert', o.certificate as string, '--key', made.key as string]);
    expect(human.status).toBe(0);
    expect(human.stdout).toContain(made.publicKeyHash as string);
    expect(human.stdout).toContain('merchant.com.example.import');
  });

  test('a Merchant Identity certificate is refused, saying it is one, in import and in createVerifier', async () => {
    const p = pki();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const identifier = 'merchant.com.example.identity';
    const spec = merchantSpec({ key: publicKey, issuerKey: p.wwdr.key, identifier });
    // Apple's Merchant Identity certificate: "Merchant ID: <id>", a TLS client certificate.
    const identity = issueCertificate({
      ...spec,
      subject: [
        { type: 'UID', value: identifier },
        { type: 'CN', value: `Merchant ID: ${identifier}` },
        { type: 'OU', value: 'TESTTEAM01' },
        { type: 'O', value: 'Test Merchant Inc.' },
        { type: 'C', value: 'US' },
      ],
      extensions: [
        ...spec.extensions!.filter((e) => e.oid !== '2.5.29.15'),
        { oid: '2.5.29.15', critical: true, value: der.bitString(Buffer.from([0x80]), 7) },
        { oid: '2.5.29.37', value: der.sequence([der.oid('1.3.6.1.5.5.7.3.2')]) },
      ],
    });
    const dir = join(tmp, 'identity');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    writeFileSync(join(dir, 'merchant_id.cer'), identity);
    writeFileSync(join(dir, 'merchant_id.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    secrets.push(...keyMaterial(join(dir, 'merchant_id.key')));

    const r = await cli([
      'keys',
      'import',
      '--cert',
      join(dir, 'merchant_id.cer'),
      '--key',
      join(dir, 'merchant_id.key'),
      '--out',
      join(dir, 'out'),
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/refused/);
    expect(r.stderr).toMatch(
      /MERCHANT_IDENTITY_CERTIFICATE: the certificate is an Apple Pay Merchant Identity certificate .*not a Payment Processing certificate/,
    );
    const j = json(
      (await cli(['keys', 'import', '--cert', join(dir, 'merchant_id.cer'), '--key', join(dir, 'merchant_id.key'), '--json'])).stdout,
    );
    expect(j).toMatchObject({ ok: false, certificate: null, problems: [{ code: 'MERCHANT_IDENTITY_CERTIFICATE' }] });
    expect(() => statSync(join(dir, 'out'))).toThrow();

    expect(() =>
      createVerifier({ merchants: { certificate: identity, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) } }),
    ).toThrow(
      expect.objectContaining({
        code: 'MERCHANT_CERT_INVALID',
        message: expect.stringMatching(
          /merchants\[0\]\.certificate is an Apple Pay Merchant Identity certificate.*not a Payment Processing certificate/,
        ),
      }),
    );
    // The check does not depend on the name: with the Payment Processing name but clientAuth it is still refused...
    const renamed = issueCertificate({
      ...spec,
      extensions: [...spec.extensions!, { oid: '2.5.29.37', value: der.sequence([der.oid('1.3.6.1.5.5.7.3.2')]) }],
    });
    expect(() =>
      createVerifier({ merchants: { certificate: renamed, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) } }),
    ).toThrow(expect.objectContaining({ code: 'MERCHANT_CERT_INVALID' }));
  });

  test('Payment Processing certificates named "Merchant ID: ..." (Apple, 2014) are not mistaken for Merchant Identity ones', async () => {
    const dir = join(REAL_DIR, 'gala-seatgeek-2014');
    expect(readFileSync(join(dir, 'meta.json'), 'utf8')).toContain('CN=Merchant ID: merchant.com.seatgeek.SeatGeek');
    const r = await cli([
      'keys',
      'import',
      '--cert',
      join(dir, 'merchant_cert.pem'),
      '--key',
      join(dir, 'merchant_key.TEST-KEY.pem'),
      '--now',
      '2015-01-01T00:00:00Z',
      '--json',
    ]);
    expect(json(r.stdout)).toMatchObject({ ok: true, merchantIdentifier: 'merchant.com.seatgeek.SeatGeek', problems: [] });
    expect(r.status).toBe(0);
  });

  test('a key that does not belong to the certificate is refused', async () => {
    const p = pki();
    const r = await cli(['keys', 'import', '--cert', p.merchants.ec.certPath, '--key', p.merchants.ecRotated.keyPath, '--json']);
    expect(r.status).toBe(1);
    expect(json(r.stdout)).toMatchObject({ ok: false, problems: [{ code: 'KEY_MISMATCH' }] });
  });
});

describe('keys check', () => {
  const p = pki();
  const pair = (name: 'ec' | 'rsa' | 'ecRotated'): string[] => ['--cert', p.merchants[name].certPath, '--key', p.merchants[name].keyPath];

  test('a good key ring exits 0 and prints the table', async () => {
    const r = await cli(['keys', 'check', ...pair('ec'), ...pair('rsa'), '--now', '2025-03-01T00:00:00Z']);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^#\s+merchant id\s+publicKeyHash\s+type\s+expires\s+days left\s+status$/);
    expect(r.stdout).toContain(p.merchants.ec.publicKeyHash.toString('base64'));
    expect(r.stdout).toContain('merchant.com.example.applepay-verify.rsa');
  });

  test('a mismatched pair exits 1 with KEY_MISMATCH', async () => {
    const r = await cli([
      'keys',
      'check',
      '--cert',
      p.merchants.ec.certPath,
      '--key',
      p.merchants.ecRotated.keyPath,
      '--now',
      '2025-03-01T00:00:00Z',
      '--json',
    ]);
    expect(r.status).toBe(1);
    expect(json(r.stdout)).toMatchObject({ ok: false, keys: [{ problems: [{ code: 'KEY_MISMATCH' }] }] });
  });

  test('expiry within --warn-days (default 30) exits 1; outside it exits 0; after it EXPIRED', async () => {
    const soon = await cli(['keys', 'check', ...pair('ec'), '--now', '2033-12-10T00:00:00Z', '--json']);
    expect(soon.status).toBe(1);
    expect(json(soon.stdout)).toMatchObject({ ok: false, warnDays: 30, keys: [{ daysLeft: 22, problems: [{ code: 'EXPIRES_SOON' }] }] });
    expect((await cli(['keys', 'check', ...pair('ec'), '--now', '2033-12-10T00:00:00Z', '--warn-days', '20'])).status).toBe(0);
    expect((await cli(['keys', 'check', ...pair('ec'), '--now', '2033-10-01T00:00:00Z', '--warn-days', '120'])).status).toBe(1);
    const expired = json((await cli(['keys', 'check', ...pair('ec'), '--now', '2034-02-01T00:00:00Z', '--json'])).stdout);
    expect(expired).toMatchObject({ keys: [{ problems: [{ code: 'EXPIRED' }] }] });
  });

  test('a PKCS#12 key stands alone, as for verifying', async () => {
    const r = await cli(
      [
        'keys',
        'check',
        '--key',
        join(p.dir, p.manifest.merchants.ec.p12!),
        '--passphrase-env',
        'P',
        '--now',
        '2025-03-01T00:00:00Z',
        '--json',
      ],
      { P: 'test-passphrase' },
    );
    expect(json(r.stdout)).toMatchObject({
      ok: true,
      keys: [{ publicKeyHash: p.merchants.ec.publicKeyHash.toString('base64'), problems: [] }],
    });
  });

  test('the installed command dispatches keys (bin, dist)', () => {
    const r = spawnSync(process.execPath, [BIN, 'keys', 'check', ...pair('ec'), '--key', p.merchants.rsa.keyPath, '--json'], {
      encoding: 'utf8',
    });
    printed.push(r.stdout, r.stderr);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, keys: [{}, { problems: [{ code: 'CERT_UNREADABLE' }] }] });
  });
});

test('no private key material in anything the command printed', () => {
  const all = printed.join('\n');
  expect(all).not.toMatch(/PRIVATE KEY/);
  expect(secrets.length).toBeGreaterThan(0);
  for (const s of secrets) expect(all).not.toContain(s);
});
