// Driver for scripts/valgrind.sh: at least 1,000 verifications through the compiled package
// (every vector of the corpus once, with its own verifier and so its own key imports, then the
// valid vectors again and again on kept verifiers, sync and async), plus the addon's signer entry
// points and its error paths. Then every handle is dropped and collected, so that memory the addon
// failed to free shows up as "definitely lost" rather than as still reachable.
//
//   node --expose-gc scripts/valgrind-driver.mjs [VERIFICATIONS]
import { createVerifier } from '../dist/index.js';
import { native } from '../dist/native/binding.js';
import { findVectors, loadVector, verifyVector } from '../dist/vectors/index.js';

const target = Number(process.argv[2] ?? 1000);
const dir = new URL('../test-vectors/vectors/', import.meta.url).pathname;
const files = findVectors(dir);
let count = 0;
const outcomes = {};
const note = (o) => {
  count++;
  const key = o.ok ? 'OK' : o.code;
  outcomes[key] = (outcomes[key] ?? 0) + 1;
};

// 1. Every vector once, each with a verifier built for it.
for (const file of files) note(await verifyVector(loadVector(file)));

// 2. The valid vectors over and over on one verifier each: the steady-state path of a server.
{
  const kept = files
    .map((f) => loadVector(f))
    .filter((l) => l.vector.expected.ok && l.vector.replay === undefined)
    .map((l) => ({ l, verifier: createVerifier(l.options) }));
  for (let i = 0; count < target; i++) {
    const { l, verifier } = kept[i % kept.length];
    try {
      if (i % 2 === 0) verifier.verifyAndDecryptSync(l.token, { now: l.now });
      else await verifier.verifyAndDecrypt(l.token, { now: l.now });
      note({ ok: true });
    } catch (err) {
      note({ ok: false, code: err.code });
    }
  }
}

// 3. The signer entry points and the addon's error paths, directly.
{
  const real = loadVector(files.find((f) => f.includes('ec-3ds.vector')));
  const { parseSignedData } = await import('../dist/steps/signed-data.js');
  const { X509Certificate } = await import('node:crypto');
  const token = real.token;
  const { certificates, signer } = parseSignedData(Buffer.from(token.signature, 'base64'), token.version);
  for (let i = 0; i < 50; i++) {
    for (const cert of certificates) {
      const spki = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
      const key = native.importPublicKey(spki);
      native.verifySignature(key, signer.signedAttributes, signer.signature);
      // The token operation with no merchant key: the signature-only job on the pool.
      const headerKey = Buffer.from(token.header.ephemeralPublicKey ?? token.header.wrappedKey, 'base64');
      const data = Buffer.from(token.data, 'base64');
      const transactionId = Buffer.from(token.header.transactionId, 'hex');
      await native
        .token(true, key, signer.signedAttributes, signer.signature, null, headerKey, null, data, signer.messageDigest, transactionId, null)
        .catch(() => {});
    }
    for (const bad of [Buffer.from('not a key'), Buffer.alloc(91, 4)]) {
      try {
        native.importPublicKey(bad);
      } catch {}
    }
    try {
      native.importKey(Buffer.from('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'));
    } catch {}
  }
}

console.log(`${count} verifications: ${JSON.stringify(outcomes)}`);
// Let the handles go: finalizers free the keys they own.
for (let i = 0; i < 5; i++) {
  globalThis.gc();
  await new Promise((resolve) => setImmediate(resolve));
}
