#!/usr/bin/env node
// Writes the libFuzzer seed corpora (one directory per target under the given directory) from the
// repository's own vectors: the real tokens, Wycheproof, the key fixtures and a few inputs built
// here with node:crypto so that every target starts from inputs that reach its success path.
// Usage: node scripts/fuzz-seeds.mjs OUT_DIR
import { constants, createHash, publicEncrypt, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = process.argv[2];
if (!out) throw new Error('usage: fuzz-seeds.mjs OUT_DIR');

const read = (...p) => readFileSync(join(root, ...p));
const json = (...p) => JSON.parse(read(...p).toString('utf8'));
const u8 = (n) => Buffer.from([n & 0xff]);
const u16 = (n) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const hex = (s) => Buffer.from(s, 'hex');

function write(target, name, bytes) {
  const dir = join(out, target);
  mkdirSync(dir, { recursive: true });
  // Content-named like libFuzzer's own corpus entries, so reruns do not duplicate seeds.
  writeFileSync(join(dir, `${name}-${createHash('sha1').update(bytes).digest('hex').slice(0, 12)}`), bytes);
}

// import_key: every key file we have, bare and with the passphrase it was made with (and a wrong one).
const keyFiles = [
  ...readdirSync(join(root, 'test-vectors/native'))
    .filter((f) => /\.(pem|der|p12)$/.test(f))
    .map((f) => ['test-vectors/native', f]),
  ...readdirSync(join(root, 'test-vectors/pki'))
    .filter((f) => /\.(key\.pem|p12)$/.test(f))
    .map((f) => ['test-vectors/pki', f]),
  ...readdirSync(join(root, 'test-vectors/real')).flatMap((d) =>
    d.includes('.') ? [] : [[`test-vectors/real/${d}`, 'merchant_key.TEST-KEY.pem']],
  ),
];
const passphrases = ['correct horse', json('test-vectors/pki/manifest.json').p12Passphrase, 'wrong'];
for (const [dir, file] of keyFiles) {
  const bytes = read(dir, file);
  write('import_key', file, Buffer.concat([u8(0), bytes]));
  for (const pass of passphrases) {
    const p = Buffer.from(pass);
    write('import_key', `${file}-pass`, Buffer.concat([u8(1), u8(p.length), p, bytes]));
  }
}

// decrypt_ec and decrypt_rsa: the real tokens in the target's layout (gala-seatgeek-2014 is the
// set whose key the EC target holds, basistheory-rsa-2024 the RSA one; the others still give
// well-formed structure to mutate).
for (const set of readdirSync(join(root, 'test-vectors/real')).filter((d) => !d.includes('.'))) {
  const token = json('test-vectors/real', set, 'token.json');
  const data = Buffer.from(token.data, 'base64');
  if (token.header.ephemeralPublicKey) {
    const eph = Buffer.from(token.header.ephemeralPublicKey, 'base64');
    write('decrypt_ec', set, Buffer.concat([u8(eph.length), eph, data]));
    write('primitives', `ecdh-${set}`, Buffer.concat([u8(2), eph]));
  } else {
    const wrapped = Buffer.from(token.header.wrappedKey, 'base64');
    write('decrypt_rsa', set, Buffer.concat([u16(wrapped.length), wrapped, data]));
    write('primitives', `oaep-${set}`, Buffer.concat([u8(3), u8(0), wrapped]));
  }
}

// primitives: Wycheproof AES-GCM as they are (selector 0), ECDH public keys (selector 2).
const keySelector = { 16: 0, 24: 1, 32: 2 };
for (const group of json('test-vectors/wycheproof/aes_gcm_test.json').testGroups) {
  for (const t of group.tests) {
    const [key, iv, aad, ct, tag] = [t.key, t.iv, t.aad, t.ct, t.tag].map(hex);
    if (!(key.length in keySelector) || iv.length > 255 || aad.length > 255 || tag.length > 32) continue;
    write(
      'primitives',
      `gcm-${t.tcId}`,
      Buffer.concat([u8(0), u8(keySelector[key.length]), u8(iv.length), u8(aad.length), u8(tag.length), key, iv, aad, tag, ct]),
    );
  }
}
for (const group of json('test-vectors/wycheproof/ecdh_secp256r1_test.json').testGroups) {
  for (const t of group.tests.filter((_, i) => i % 4 === 0)) {
    const pub = hex(t.public);
    write('primitives', `ecdh-wp-${t.tcId}`, Buffer.concat([u8(2), pub]));
    if (pub.length < 256) write('decrypt_ec', `wp-${t.tcId}`, Buffer.concat([u8(pub.length), pub, Buffer.alloc(40, 0xa5)]));
  }
}
// KDF: the known answer of docs/token-format.md#key-derivation (gala Z and party V).
write(
  'primitives',
  'kdf-gala',
  Buffer.concat([
    u8(1),
    u8(32),
    u8(32),
    Buffer.from('yCUzDuNYTnUnANZEdxC7+DvPmqNslB2YWYn68SBsJHU=', 'base64'),
    hex('358DA5890B9555C0A9EFB84B5CD6FF04BFDCD5AABF5DC14B9872D8DF51EAF439'),
  ]),
);
// RSA-OAEP ciphertexts the RSA target's key does decrypt, with and without a label.
const rsaCert = new X509Certificate(read('test-vectors/real/basistheory-rsa-2024/merchant_cert.pem'));
const rsaKey = createPublicKey(rsaCert.publicKey.export({ type: 'spki', format: 'pem' }));
for (const label of [Buffer.alloc(0), Buffer.from('label')]) {
  const ct = publicEncrypt(
    { key: rsaKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label },
    Buffer.alloc(16, 7),
  );
  write('primitives', `oaep-own-${label.length}`, Buffer.concat([u8(3), u8(label.length), label, ct]));
  if (label.length === 0) write('decrypt_rsa', 'own-wrapped-no-data', Buffer.concat([u16(ct.length), ct, Buffer.alloc(33, 1)]));
}

// signature: the real tokens' signer (SPKI of the certificate whose key verifies the CMS), signed
// attributes and signature, with their key material and data; ImportPublicKey seeds from every
// certificate we have and Wycheproof's ECDSA keys. The CMS is read with the compiled library.
const { parseSignedData } = await import('../dist/steps/signed-data.js');
const { verify, X509Certificate: Cert } = await import('node:crypto');
const spkiOf = (der) => new Cert(der).publicKey.export({ type: 'spki', format: 'der' });
for (const set of readdirSync(join(root, 'test-vectors/real')).filter((d) => !d.includes('.'))) {
  const token = json('test-vectors/real', set, 'token.json');
  const { certificates, signer } = parseSignedData(Buffer.from(token.signature, 'base64'), token.version);
  for (const cert of certificates) write('signature', `spki-${set}`, Buffer.concat([u8(0), spkiOf(cert)]));
  const leaf = certificates.find((c) => verify('sha256', signer.signedAttributes, new Cert(c).publicKey, signer.signature));
  if (leaf === undefined) continue;
  const spki = spkiOf(leaf);
  const ec = token.version === 'EC_v1';
  const headerKey = Buffer.from(ec ? token.header.ephemeralPublicKey : token.header.wrappedKey, 'base64');
  write(
    'signature',
    `token-${set}`,
    Buffer.concat([
      u8(ec ? 1 : 2),
      u16(spki.length),
      spki,
      u16(signer.signedAttributes.length),
      signer.signedAttributes,
      u16(signer.signature.length),
      signer.signature,
      u16(headerKey.length),
      headerKey,
      Buffer.from(token.data, 'base64'),
    ]),
  );
}
for (const file of readdirSync(join(root, 'test-vectors/pki')).filter((f) => f.endsWith('.pem') && !f.includes('key'))) {
  write('signature', `spki-pki-${file}`, Buffer.concat([u8(0), spkiOf(read('test-vectors/pki', file))]));
}
for (const group of json('test-vectors/wycheproof/ecdsa_secp256r1_sha256_test.json').testGroups.slice(0, 40)) {
  write('signature', 'spki-wp', Buffer.concat([u8(0), hex(group.publicKeyDer)]));
}
